// A few DOM helpers: the storefront is plain TypeScript, no framework, to stay small.

type Attrs = Record<string, string | number | boolean | undefined | ((ev: Event) => void)>;
type Child = Node | string | undefined | false | null;

/** h creates an element: h("button", {type: "submit", onclick: f}, "Save"). Text is never parsed as HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c);
  }
  return el;
}

/** field is a labelled input with a slot for its error, wired for screen readers. */
export function field(id: string, label: string, path: string, attrs: Attrs = {}): HTMLElement {
  const errId = `${id}-error`;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: path, "data-field": path, "aria-describedby": errId, ...attrs }),
    h("p", { id: errId, class: "field-error", hidden: true }),
  );
}

/** fieldErrors shows messages next to the inputs whose data-field matches; returns the paths it could not place. */
export function fieldErrors(scope: HTMLElement, fields: Map<string, string[]>): string[] {
  clearFieldErrors(scope);
  const unplaced: string[] = [];
  let first: HTMLElement | undefined;
  for (const [path, msgs] of fields) {
    const input = scope.querySelector<HTMLElement>(`[data-field="${CSS.escape(path)}"]`);
    const err = input && document.getElementById(input.getAttribute("aria-describedby") ?? "");
    if (!input || !err) {
      unplaced.push(`${path}: ${msgs.join("; ")}`);
      continue;
    }
    input.setAttribute("aria-invalid", "true");
    err.textContent = msgs.join("; ");
    err.hidden = false;
    first ??= input;
  }
  first?.focus();
  return unplaced;
}

export function clearFieldErrors(scope: HTMLElement): void {
  for (const el of scope.querySelectorAll<HTMLElement>("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of scope.querySelectorAll<HTMLElement>(".field-error")) {
    el.textContent = "";
    el.hidden = true;
  }
}

/** alertBox is a form- or page-level message region (role=alert for errors, status otherwise). */
export function alertBox(kind: "error" | "info"): HTMLElement {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status", hidden: true });
}

export function say(box: HTMLElement, text: string): void {
  box.textContent = text;
  box.hidden = text === "";
}

/** value reads a named control of a form. */
export function value(form: HTMLFormElement, name: string): string {
  const el = form.elements.namedItem(name);
  return el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement ? el.value.trim() : "";
}
