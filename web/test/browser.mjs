// Drives the storefront in Debian's Chromium with playwright-core: once per protocol (Connect
// JSON, Connect binary, gRPC-Web), a new customer signs up and places an order, watches it turn
// CONFIRMED and its notification arrive, and signs out; along the way validation violations
// appear next to their fields, an admin adds a product and adjusts its stock, and an order for
// more than the stock shows "out of stock" on the cart line; axe-core audits each view (WCAG 2.1
// A and AA). ops/e2e (TestStorefrontInBrowser)
// runs it against the platform; it prints one JSON line with what it measured and saw.
//
// Settings (environment): WEB_URL (the storefront's origin), EDGE_URL, CHROMIUM (executable),
// SPKI (comma-separated base64 SHA-256 SPKI hashes of the edge's certificate chain: the dev CA
// is not in the system store), ARTIFACTS (screenshots go there), ADMIN_EMAIL, ADMIN_PASSWORD,
// PRODUCT (the name of a product with stock), PROTOCOLS (default "json,binary,grpc-web").
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const web = env("WEB_URL");
const edge = env("EDGE_URL");
const artifacts = env("ARTIFACTS");
const product = env("PRODUCT");
const protocols = env("PROTOCOLS", "json,binary,grpc-web").split(",");
const timeout = 20_000; // per expectation; a platform under CI load answers in well under a second

// The content type a unary POST carries in each protocol.
const contentTypes = { json: "application/json", binary: "application/proto", "grpc-web": "application/grpc-web+proto" };

const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  headless: true,
  // playwright-core gives every launch a new, empty profile (its own --user-data-dir).
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--ignore-certificate-errors-spki-list=${env("SPKI")}`,
  ],
});

// axe-core audits the page's markup (WCAG 2 A and AA rules). It is evaluated through DevTools,
// so the page's Content-Security-Policy stays as served.
const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const runs = [];
const log = (...a) => console.error(`[browser ${new Date().toISOString().slice(11, 23)}]`, ...a);
try {
  for (const protocol of protocols) runs.push(await storefront(protocol));
} catch (err) {
  // What the page showed when an expectation failed.
  for (const [i, page] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    await page.screenshot({ path: `${artifacts}/failure-${i}.png`, fullPage: true }).catch(() => {});
    log(`failure: screenshot of the page in ${artifacts}/failure-${i}.png`);
  }
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify({ browser: browser.version(), runs }));

async function storefront(protocol) {
  // The last run is at phone width: the page must work there without sideways scrolling.
  const phone = protocol === protocols.at(-1);
  const context = await browser.newContext(phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const run = { protocol, phone, calls: [], preflights: 0, consoleErrors: [], accessibility: [] };
  // Errors in the page's console, except Chromium's note on each 400 answer: the test provokes
  // invalid_argument (400) on purpose, and the page shows it.
  page.on("console", (m) => {
    if (m.type() === "error" && !/^Failed to load resource: the server responded with a status of 400 /.test(m.text())) run.consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => run.consoleErrors.push(String(e)));
  page.on("response", async (r) => {
    if (new URL(r.url()).pathname === "/main.js") run.bundleEncoding = (await r.allHeaders())["content-encoding"] ?? "identity";
  });
  page.on("request", (r) => {
    if (!r.url().startsWith(edge)) return;
    run.calls.push({ method: r.method(), path: new URL(r.url()).pathname, contentType: r.headers()["content-type"] ?? "" });
  });
  // Chromium reports CORS preflights to DevTools as requests of their own (OPTIONS, answered
  // with a response of type "Preflight"); a failed one would fail the call it precedes.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.responseReceived", (e) => {
    if (e.type === "Preflight" && e.response.url.startsWith(edge)) run.preflights++;
  });

  // First load to product list.
  await page.goto(`${web}/?protocol=${protocol}`);
  await page.getByRole("heading", { name: product, exact: true }).waitFor();
  run.firstLoadMs = await mark(page, "mercato:products-shown");
  await audit(page, run, "products");
  log(protocol, `products shown ${run.firstLoadMs.toFixed(0)} ms after navigation`);

  if (protocol === "binary") await adminAddsScarceProduct(page, run);

  // Sign up (first with bad input: the violations show next to their fields).
  await page.getByRole("link", { name: "Create account" }).click();
  if (protocol === "json") {
    await page.getByLabel("Email").fill("not-an-email");
    await page.getByLabel(/^Password/).fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    run.violations = {};
    for (const [id, field] of [["signup-email", "email"], ["signup-password", "password"], ["signup-name", "display_name"]]) {
      const err = page.locator(`#${id}-error`);
      await err.waitFor();
      run.violations[field] = await err.textContent();
      if ((await page.locator(`#${id}`).getAttribute("aria-invalid")) !== "true") throw new Error(`${id}: not marked aria-invalid`);
    }
    log(protocol, "violations shown next to their fields", run.violations);
    await audit(page, run, "sign-up form with violations");
  }
  const email = `web-${protocol}-${Date.now()}@e2e.mercato.test`;
  await page.getByLabel("Name").fill(`Browser ${protocol}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel(/^Password/).fill("browser-password-1");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: /^Sign out/ }).waitFor();
  run.customer = email;

  // Place an order and watch it.
  await page.getByRole("heading", { name: product, exact: true }).waitFor();
  await addToCart(page, product).click();
  await page.getByLabel(`Quantity of ${product}`).waitFor();
  await page.screenshot({ path: `${artifacts}/storefront-${protocol}-cart.png` });
  await audit(page, run, "products with a cart");
  await page.getByRole("button", { name: "Place order" }).click();
  await page.getByText("Status: Confirmed").waitFor();
  run.orderRoundTripMs = await measure(page, "mercato:order-submitted", "mercato:order-confirmed-shown");
  run.orderId = (await page.locator(".order-id code").textContent()).trim();
  const t0 = Date.now();
  await page.locator(".notifications li strong").first().waitFor();
  run.notificationWaitMs = Date.now() - t0;
  run.notification = await page.locator(".notifications li strong").first().textContent();
  log(protocol, `order ${run.orderId} confirmed ${run.orderRoundTripMs.toFixed(0)} ms after the click; notification "${run.notification}" ${run.notificationWaitMs} ms later`);
  await page.screenshot({ path: `${artifacts}/storefront-${protocol}-order.png`, fullPage: true });
  await audit(page, run, "order");

  if (run.scarce) await orderMoreThanStock(page, run);

  if (phone) {
    await page.getByRole("link", { name: "Products" }).click();
    await page.getByRole("heading", { name: product, exact: true }).waitFor();
    run.horizontalOverflowPx = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  }
  await page.screenshot({ path: `${artifacts}/storefront-${protocol}.png`, fullPage: !phone });

  await page.getByRole("button", { name: /^Sign out/ }).click();
  await page.getByRole("link", { name: "Sign in" }).waitFor();
  run.signedOut = (await page.evaluate(() => sessionStorage.getItem("mercato.session"))) === null;

  const posts = run.calls.filter((c) => c.method === "POST");
  run.postContentTypes = [...new Set(posts.map((c) => c.contentType))];
  run.expectedContentType = contentTypes[protocol];
  run.gets = run.calls.filter((c) => c.method === "GET").length;
  delete run.calls;
  await context.close();
  return run;
}

async function adminAddsScarceProduct(page, run) {
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.getByLabel("Email").fill(env("ADMIN_EMAIL"));
  await page.getByLabel("Password").fill(env("ADMIN_PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Admin" }).click();
  const name = `Scarce lamp ${Date.now()}`;
  await page.getByLabel(/^SKU/).fill("not a sku");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Price").fill("19.90");
  await page.getByLabel("Initial stock").fill("1");
  await page.getByRole("button", { name: "Add product" }).click();
  await page.locator("#np-sku-error").waitFor();
  run.skuViolation = await page.locator("#np-sku-error").textContent();
  await page.getByLabel(/^SKU/).fill(`WEB-${Date.now()}`);
  await page.getByRole("button", { name: "Add product" }).click();
  await page.getByText(`Added ${name}.`).waitFor();
  const row = page.getByRole("form", { name: `Adjust stock of ${name}` });
  await row.getByLabel(`Change for ${name}`).fill("1");
  await row.getByLabel(`Reason for ${name}`).fill("restock");
  await row.getByRole("button", { name: `Apply stock change to ${name}` }).click();
  await row.getByText("2 available").waitFor();
  await audit(page, run, "admin");
  log("admin", `added "${name}" (a bad SKU first: "${run.skuViolation}") and adjusted its stock 1 → 2`);
  run.scarce = name;
  await page.getByRole("button", { name: /^Sign out/ }).click();
  await page.getByRole("link", { name: "Create account" }).waitFor();
}

async function orderMoreThanStock(page, run) {
  await page.getByRole("link", { name: "Products" }).click();
  await addToCart(page, run.scarce).click();
  await page.getByLabel(`Quantity of ${run.scarce}`).fill("5");
  await page.getByLabel(`Quantity of ${run.scarce}`).press("Tab");
  await page.getByRole("button", { name: "Place order" }).click();
  const line = page.locator("#cart .line .field-error").first();
  await line.getByText(/^Out of stock/).waitFor();
  run.outOfStockLine = await line.textContent();
  await page.screenshot({ path: `${artifacts}/storefront-${run.protocol}-out-of-stock.png` });
  await audit(page, run, "cart line out of stock");
  log(run.protocol, `too many ${run.scarce}: "${run.outOfStockLine}" on the line`);
  await page.getByRole("button", { name: `Remove ${run.scarce}` }).click();
}

/** addToCart is the product's "Add to cart" button (its accessible name also names the product). */
function addToCart(page, name) {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return page.getByRole("button", { name: new RegExp(`^Add to cart\\s*:\\s*${escaped}$`) });
}

/** audit runs axe-core on the page as it is and records every violation with where it was. */
async function audit(page, run, where) {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const res = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
  run.audits = (run.audits ?? 0) + 1;
  for (const v of found) run.accessibility.push({ where, ...v });
}

/** mark: ms from navigation start to the page's performance mark. */
async function mark(page, name) {
  await page.waitForFunction((n) => performance.getEntriesByName(n).length > 0, name);
  return page.evaluate((n) => performance.getEntriesByName(n)[0].startTime, name);
}

/** measure: ms between the last two page marks of these names. */
async function measure(page, from, to) {
  await page.waitForFunction((n) => performance.getEntriesByName(n).length > 0, to);
  return page.evaluate(([a, b]) => performance.getEntriesByName(b).at(-1).startTime - performance.getEntriesByName(a).at(-1).startTime, [from, to]);
}
