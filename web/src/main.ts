// The Mercato storefront: browse products, sign up and in, place an order and watch it and its
// notifications, sign out; an admin adds products and adjusts stock. Every call goes to the
// edge named by <meta name="mercato-edge">, over the protocol chosen with ?protocol= (or the
// selector in the footer).
import { Code } from "@connectrpc/connect";
import type { Product } from "@mercato/api/inventory/v1/inventory_pb";
import { OrderStatus, RejectReason, type Order } from "@mercato/api/orders/v1/orders_pb";
import { clearSession, createApi, loadSession, protocols, saveSession, type Protocol, type Session } from "./api.js";
import { alertBox, clearFieldErrors, field, fieldErrors, h, say, value } from "./dom.js";
import { problem, type Problem } from "./errors.js";
import { minorUnits, money, orderStatus, rejectReason, time } from "./format.js";

const defaultEdge = "https://localhost:8443";

/** edgeURL comes from the page (the server that serves it writes it), never from the address bar. */
function edgeURL(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="mercato-edge"]')?.content ?? "";
  return /^https?:\/\/[^/]+$/.test(meta) ? meta : defaultEdge;
}

function chosenProtocol(): Protocol {
  const wanted = new URLSearchParams(location.search).get("protocol") ?? localStorage.getItem("mercato.protocol") ?? "json";
  return Object.hasOwn(protocols, wanted) ? (wanted as Protocol) : "json";
}

// ---- state ----

let session: Session | undefined = loadSession();
const api = createApi(edgeURL(), chosenProtocol(), () => session?.token, () => signOut("Your session has ended: please sign in again."));
let products: Product[] = [];
const cart = new Map<string, number>(); // productId → quantity
const lineErrors = new Map<string, string>(); // productId → message on the cart line
let checkoutKey: string | undefined; // idempotency key of the order being placed (kept across retries)
let afterSignIn = "#/";

const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
const banner = document.getElementById("banner") as HTMLElement;
let stopPolling: (() => void) | undefined;

// ---- routing ----

const routes: Record<string, (arg: string) => Promise<void> | void> = {
  "": showProducts,
  products: showProducts,
  signin: showSignIn,
  signup: showSignUp,
  orders: (id) => (id ? showOrder(id) : showOrders()),
  notifications: showNotifications,
  admin: showAdmin,
};

async function route(): Promise<void> {
  stopPolling?.();
  stopPolling = undefined;
  const [, name = "", arg = ""] = location.hash.split("/");
  const view = routes[name] ?? showProducts;
  if (!bannerFresh) say(banner, "");
  bannerFresh = false;
  renderNav(name || "products");
  main.replaceChildren();
  await view(decodeURIComponent(arg));
  main.querySelector<HTMLElement>("h1")?.focus();
}

function go(hash: string): void {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

function renderNav(current: string): void {
  const link = (name: string, text: string) =>
    h("li", {}, h("a", { href: `#/${name}`, "aria-current": current === name ? "page" : undefined }, text));
  const items = [link("products", "Products")];
  if (session) {
    items.push(link("orders", "Orders"), link("notifications", "Notifications"));
    if (session.customer.admin) items.push(link("admin", "Admin"));
    items.push(h("li", {}, h("button", { type: "button", class: "link", onclick: () => signOut("You are signed out.") }, `Sign out (${session.customer.name || session.customer.email})`)));
  } else {
    items.push(link("signin", "Sign in"), link("signup", "Create account"));
  }
  nav.replaceChildren(h("ul", {}, ...items));
}

function heading(text: string): HTMLElement {
  return h("h1", { tabindex: -1 }, text);
}

let bannerFresh = false; // the banner stays for the view after the one that set it

function notice(text: string): void {
  say(banner, text);
  bannerFresh = true;
}

// ---- products and cart ----

async function loadProducts(): Promise<void> {
  const res = await api.inventory.listProducts({ pageSize: 100 });
  products = res.products;
}

async function showProducts(): Promise<void> {
  const status = alertBox("error");
  main.append(heading("Products"), status);
  try {
    await loadProducts();
  } catch (err) {
    say(status, problem(err).message);
    return;
  }
  const grid = h("ul", { class: "products", "aria-label": "Products" });
  for (const p of products) grid.append(productCard(p));
  const layout = h("div", { class: "shop" }, h("section", { "aria-label": "Catalog" }, grid), cartPanel());
  main.append(layout);
  if (products.length === 0) grid.append(h("li", {}, "No products yet."));
  performance.mark("mercato:products-shown");
}

function productCard(p: Product): HTMLElement {
  const id = `product-${p.productId}`;
  const soldOut = p.available <= 0n;
  return h(
    "li",
    { class: "product", "aria-labelledby": id },
    h("h2", { id }, p.name),
    p.description ? h("p", { class: "description" }, p.description) : undefined,
    h("p", { class: "price" }, money(p.price)),
    h("p", { class: soldOut ? "stock out" : "stock" }, soldOut ? "Sold out" : `${p.available} in stock`),
    h(
      "button",
      {
        type: "button",
        disabled: soldOut,
        onclick: () => {
          cart.set(p.productId, (cart.get(p.productId) ?? 0) + 1);
          cartChanged();
        },
      },
      // The accessible name starts with the visible text (WCAG 2.5.3) and names the product.
      "Add to cart",
      h("span", { class: "visually-hidden" }, `: ${p.name}`),
    ),
  );
}

function cartChanged(): void {
  checkoutKey = undefined; // a different cart is a different order
  document.getElementById("cart")?.replaceWith(cartPanel());
}

function cartPanel(): HTMLElement {
  const status = alertBox("error");
  const panel = h("section", { id: "cart", class: "cart", "aria-labelledby": "cart-title" }, h("h2", { id: "cart-title" }, "Cart"));
  if (cart.size === 0) {
    panel.append(h("p", {}, "Your cart is empty."));
    return panel;
  }
  const list = h("ul", { class: "lines" });
  let i = 0;
  for (const [productId, qty] of cart) {
    const p = products.find((x) => x.productId === productId);
    const name = p?.name ?? productId;
    const errId = `line-${i}-error`;
    const lineErr = lineErrors.get(productId);
    list.append(
      h(
        "li",
        { class: "line" },
        h("span", { class: "line-name" }, name),
        h("label", { class: "visually-hidden", for: `qty-${i}` }, `Quantity of ${name}`),
        h("input", {
          id: `qty-${i}`,
          type: "number",
          inputmode: "numeric",
          min: 1,
          value: qty,
          "data-field": `items[${i}].quantity`,
          "aria-describedby": errId,
          "aria-invalid": lineErr ? "true" : undefined,
          onchange: (ev: Event) => {
            const n = Number((ev.target as HTMLInputElement).value);
            if (Number.isInteger(n) && n > 0) cart.set(productId, n);
            else cart.delete(productId);
            lineErrors.delete(productId);
            cartChanged();
          },
        }),
        h("span", { class: "line-total" }, p?.price ? money({ ...p.price, amountMinor: p.price.amountMinor * BigInt(qty) }) : ""),
        h("button", { type: "button", class: "link", "aria-label": `Remove ${name}`, onclick: () => (cart.delete(productId), lineErrors.delete(productId), cartChanged()) }, "Remove"),
        h("p", { id: errId, class: "field-error", hidden: !lineErr }, lineErr ?? ""),
      ),
    );
    i++;
  }
  const form = h(
    "form",
    { novalidate: true, "aria-label": "Checkout" },
    list,
    h(
      "div",
      { class: "field" },
      h("label", { for: "payment-method" }, "Payment method"),
      h(
        "select",
        { id: "payment-method", name: "payment_method", "data-field": "payment_method", "aria-describedby": "payment-method-error" },
        h("option", { value: "pm_card_visa" }, "Visa •••• 4242"),
        h("option", { value: "pm_card_declined" }, "A card that is declined"),
      ),
      h("p", { id: "payment-method-error", class: "field-error", hidden: true }),
    ),
    status,
    h("button", { type: "submit" }, session ? "Place order" : "Sign in to order"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void placeOrder(form, status);
  });
  panel.append(form);
  return panel;
}

async function placeOrder(form: HTMLFormElement, status: HTMLElement): Promise<void> {
  if (!session) {
    afterSignIn = "#/";
    notice("Sign in to place your order; your cart is kept.");
    go("#/signin");
    return;
  }
  const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
  button.disabled = true;
  say(status, "");
  clearFieldErrors(form);
  checkoutKey ??= crypto.randomUUID();
  const lines = [...cart];
  performance.mark("mercato:order-submitted");
  try {
    const res = await api.orders.createOrder({
      customerId: session.customer.id,
      idempotencyKey: checkoutKey,
      items: lines.map(([productId, quantity]) => ({ productId, quantity })),
      paymentMethod: value(form, "payment_method"),
    });
    const order = res.order;
    checkoutKey = undefined; // answered: another click is another order
    if (!order) throw new Error("no order in the response");
    if (order.status === OrderStatus.REJECTED && order.rejectReason === RejectReason.OUT_OF_STOCK) {
      await markShortLines();
      return;
    }
    if (order.status !== OrderStatus.REJECTED) cart.clear();
    go(`#/orders/${encodeURIComponent(order.orderId)}`);
  } catch (err) {
    const p = problem(err);
    const rest = fieldErrors(form, p.fields);
    say(status, [p.message, ...rest].join(" "));
  } finally {
    button.disabled = false;
  }
}

/** markShortLines reloads the catalog and shows "out of stock" on every line asking for more than there is. */
async function markShortLines(): Promise<void> {
  await loadProducts();
  lineErrors.clear();
  for (const [productId, qty] of cart) {
    const p = products.find((x) => x.productId === productId);
    const available = p?.available ?? 0n;
    if (BigInt(qty) > available) lineErrors.set(productId, available > 0n ? `Out of stock: only ${available} left.` : "Out of stock.");
  }
  await route();
  const status = document.querySelector<HTMLElement>("#cart [role=alert]");
  if (status) say(status, "Your order was not placed: an item is out of stock.");
}

// ---- orders and notifications ----

async function showOrders(): Promise<void> {
  if (!requireSession()) return;
  const status = alertBox("error");
  main.append(heading("Your orders"), status);
  try {
    const res = await api.orders.listOrders({ customerId: session!.customer.id, pageSize: 50 });
    if (res.orders.length === 0) main.append(h("p", {}, "No orders yet."));
    const list = h("ul", { class: "orders" });
    for (const o of res.orders) {
      list.append(h("li", {}, h("a", { href: `#/orders/${o.orderId}` }, `${time(o.createTime)} — ${money(o.total)} — ${orderStatus(o.status)}`)));
    }
    main.append(list);
  } catch (err) {
    say(status, problem(err).message);
  }
}

async function showOrder(orderId: string): Promise<void> {
  if (!requireSession()) return;
  const status = alertBox("error");
  const body = h("div", { class: "order" });
  const notes = h("ul", { class: "notifications", "aria-label": "Notifications for this order" });
  main.append(heading("Order"), status, body, h("h2", {}, "Notifications"), notes);
  let active = true;
  stopPolling = () => (active = false);
  let order: Order | undefined;
  for (let attempt = 0; active && attempt < 120; attempt++) {
    try {
      if (!order || order.status === OrderStatus.PENDING) {
        order = (await api.orders.getOrder({ orderId })).order;
        if (order) renderOrder(body, order);
      }
      const res = await api.notifications.listNotifications({ customerId: session!.customer.id, pageSize: 100 });
      const mine = res.notifications.filter((n) => n.orderId === orderId);
      notes.replaceChildren(...mine.map((n) => h("li", {}, h("strong", {}, n.subject), " ", h("span", {}, n.body), " ", h("time", {}, time(n.createTime)))));
      if (mine.length === 0) notes.append(h("li", {}, "None yet…"));
      say(status, "");
      // Done when the order has settled and its notification has arrived.
      if (order && order.status !== OrderStatus.PENDING && mine.length > 0) break;
    } catch (err) {
      const p = problem(err);
      say(status, p.message);
      if (p.code !== Code.Unavailable && p.code !== Code.DeadlineExceeded) break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function renderOrder(body: HTMLElement, o: Order): void {
  const state = orderStatus(o.status);
  const reason = o.status === OrderStatus.REJECTED ? rejectReason(o.rejectReason) : "";
  const items = h("ul", {}, ...o.items.map((it) => {
    const p = products.find((x) => x.productId === it.productId);
    return h("li", {}, `${it.quantity} × ${p?.name ?? it.productId} — ${money(it.lineTotal)}`);
  }));
  const cancel =
    o.status === OrderStatus.CONFIRMED
      ? h("button", {
          type: "button",
          onclick: async () => {
            try {
              const res = await api.orders.cancelOrder({ orderId: o.orderId, reason: "canceled by the customer in the storefront" });
              if (res.order) renderOrder(body, res.order);
            } catch (err) {
              notice(problem(err).message);
            }
          },
        }, "Cancel order")
      : undefined;
  body.replaceChildren(
    h("p", { class: "order-id" }, "Order ", h("code", {}, o.orderId), ` placed ${time(o.createTime)}`),
    h("p", { class: `order-status ${state.toLowerCase()}`, role: "status", "aria-live": "polite" }, `Status: ${state}${reason ? ` (${reason})` : ""}`),
    items,
    h("p", {}, `Total: ${money(o.total)}`),
    ...(cancel ? [cancel] : []),
  );
  if (o.status === OrderStatus.CONFIRMED) performance.mark("mercato:order-confirmed-shown");
}

async function showNotifications(): Promise<void> {
  if (!requireSession()) return;
  const status = alertBox("error");
  main.append(heading("Notifications"), status);
  try {
    const res = await api.notifications.listNotifications({ customerId: session!.customer.id, pageSize: 100 });
    const list = h("ul", { class: "notifications" }, ...res.notifications.map((n) =>
      h("li", {}, h("strong", {}, n.subject), " ", n.body, " ", h("a", { href: `#/orders/${n.orderId}` }, "order"), " ", h("time", {}, time(n.createTime))),
    ));
    main.append(res.notifications.length ? list : h("p", {}, "No notifications yet."));
  } catch (err) {
    say(status, problem(err).message);
  }
}

// ---- accounts ----

function requireSession(): boolean {
  if (session) return true;
  afterSignIn = location.hash;
  notice("Please sign in first.");
  go("#/signin");
  return false;
}

function accountForm(title: string, fields: HTMLElement[], submit: string, act: (form: HTMLFormElement) => Promise<void>): void {
  const status = alertBox("error");
  const form = h("form", { novalidate: true, "aria-labelledby": "form-title" }, ...fields, status, h("button", { type: "submit" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
    button.disabled = true;
    say(status, "");
    clearFieldErrors(form);
    try {
      await act(form);
    } catch (err) {
      showProblem(form, status, problem(err));
    } finally {
      button.disabled = false;
    }
  });
  main.append(h("h1", { id: "form-title", tabindex: -1 }, title), form);
}

function showProblem(form: HTMLFormElement, status: HTMLElement, p: Problem): void {
  const rest = fieldErrors(form, p.fields);
  say(status, [p.message, ...rest].join(" "));
}

function showSignIn(): void {
  accountForm(
    "Sign in",
    [field("signin-email", "Email", "email", { type: "email", autocomplete: "username" }), field("signin-password", "Password", "password", { type: "password", autocomplete: "current-password" })],
    "Sign in",
    async (form) => signIn(value(form, "email"), (form.elements.namedItem("password") as HTMLInputElement).value),
  );
}

function showSignUp(): void {
  accountForm(
    "Create account",
    [
      field("signup-name", "Name", "display_name", { autocomplete: "name" }),
      field("signup-email", "Email", "email", { type: "email", autocomplete: "email" }),
      field("signup-password", "Password (8 characters or more)", "password", { type: "password", autocomplete: "new-password" }),
    ],
    "Create account",
    async (form) => {
      const email = value(form, "email");
      const password = (form.elements.namedItem("password") as HTMLInputElement).value;
      await api.customers.createCustomer({ email, password, displayName: value(form, "display_name") });
      await signIn(email, password);
    },
  );
}

async function signIn(email: string, password: string): Promise<void> {
  const res = await api.customers.signIn({ email, password });
  session = saveSession(res.accessToken, res.expiresIn, res.customer);
  notice(`Signed in as ${session.customer.name || session.customer.email}.`);
  const next = afterSignIn;
  afterSignIn = "#/";
  go(next);
}

function signOut(message: string): void {
  session = undefined;
  clearSession();
  cart.clear();
  lineErrors.clear();
  checkoutKey = undefined;
  notice(message);
  go("#/");
}

// ---- admin ----

async function showAdmin(): Promise<void> {
  if (!requireSession()) return;
  main.append(heading("Catalog administration"));
  if (!session!.customer.admin) {
    main.append(h("p", { role: "alert" }, "This page is for administrators."));
    return;
  }
  main.append(newProductForm());
  const stock = h("section", { "aria-labelledby": "stock-title" }, h("h2", { id: "stock-title" }, "Stock"));
  main.append(stock);
  try {
    await loadProducts();
    const list = h("ul", { class: "stock-list" });
    products.forEach((p, i) => list.append(stockRow(p, i)));
    stock.append(list);
  } catch (err) {
    stock.append(h("p", { role: "alert" }, problem(err).message));
  }
}

function newProductForm(): HTMLElement {
  const status = alertBox("error");
  const done = alertBox("info");
  const form = h(
    "form",
    { novalidate: true, "aria-labelledby": "new-product-title" },
    h("h2", { id: "new-product-title" }, "Add a product"),
    field("np-sku", "SKU (capitals, digits, dashes)", "sku", { autocomplete: "off" }),
    field("np-name", "Name", "name", { autocomplete: "off" }),
    field("np-description", "Description", "description", { autocomplete: "off" }),
    h("div", { class: "row" },
      field("np-price", "Price", "price.amount_minor", { inputmode: "decimal", placeholder: "12.50" }),
      field("np-currency", "Currency", "price.currency", { value: "EUR", maxlength: 3, size: 4 }),
      field("np-stock", "Initial stock", "initial_stock", { type: "number", inputmode: "numeric", min: 0, value: 0 }),
    ),
    status,
    done,
    h("button", { type: "submit" }, "Add product"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    say(status, "");
    say(done, "");
    clearFieldErrors(form);
    const currency = value(form, "price.currency").toUpperCase();
    const amount = minorUnits(value(form, "price.amount_minor"), currency);
    const stockText = value(form, "initial_stock") || "0";
    const local = new Map<string, string[]>();
    if (amount === undefined) local.set("price.amount_minor", ["Enter a price such as 12.50."]);
    if (!/^-?\d{1,12}$/.test(stockText)) local.set("initial_stock", ["Enter a whole number."]);
    if (local.size > 0) {
      showProblem(form, status, { code: Code.InvalidArgument, message: "Please correct the highlighted fields.", fields: local });
      return;
    }
    try {
      const res = await api.inventory.createProduct({
        sku: value(form, "sku"),
        name: value(form, "name"),
        description: value(form, "description"),
        price: { amountMinor: amount!, currency },
        initialStock: BigInt(stockText),
      });
      say(done, `Added ${res.product?.name ?? "the product"}.`);
      form.reset();
      await loadProducts();
      const list = main.querySelector(".stock-list");
      list?.replaceChildren(...products.map((p, i) => stockRow(p, i)));
    } catch (err) {
      showProblem(form, status, problem(err));
    }
  });
  return form;
}

function stockRow(p: Product, i: number): HTMLElement {
  const status = alertBox("error");
  const available = h("span", { class: "available" }, `${p.available} available`);
  const form = h(
    "form",
    { novalidate: true, class: "stock-row", "aria-label": `Adjust stock of ${p.name}` },
    h("span", { class: "line-name" }, `${p.name} (${p.sku})`),
    available,
    field(`adj-delta-${i}`, `Change for ${p.name}`, "delta", { type: "number", inputmode: "numeric", placeholder: "+10 or -2" }),
    field(`adj-reason-${i}`, `Reason for ${p.name}`, "reason", { placeholder: "restock" }),
    status,
    h("button", { type: "submit", "aria-label": `Apply stock change to ${p.name}` }, "Apply"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    say(status, "");
    clearFieldErrors(form);
    const delta = Number(value(form, "delta") || "0");
    try {
      const res = await api.inventory.adjustStock({ productId: p.productId, delta: Number.isInteger(delta) ? delta : 0, reason: value(form, "reason") });
      available.textContent = `${res.product?.available ?? "?"} available`;
      form.reset();
    } catch (err) {
      showProblem(form, status, problem(err));
    }
  });
  return h("li", {}, form);
}

// ---- start ----

function footer(): void {
  const select = h(
    "select",
    {
      id: "protocol",
      onchange: (ev: Event) => {
        const v = (ev.target as HTMLSelectElement).value;
        localStorage.setItem("mercato.protocol", v);
        const u = new URL(location.href);
        u.searchParams.set("protocol", v);
        location.assign(u.toString());
      },
    },
    ...Object.entries(protocols).map(([k, label]) => h("option", { value: k, selected: k === api.protocol }, label)),
  );
  document.getElementById("footer")?.replaceChildren(
    h("label", { for: "protocol" }, "Protocol "),
    select,
    h("span", {}, `edge ${api.edge}`),
  );
}

footer();
window.addEventListener("hashchange", () => void route());
void route();
