// The platform's API as the storefront sees it: one transport to the edge (Connect JSON,
// Connect binary or gRPC-Web, chosen at start-up), a client per public service, and the
// end user's session (the customers service's JWT, kept for this tab only).
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { CustomerService, type Customer } from "@mercato/api/customers/v1/customers_pb";
import { InventoryService } from "@mercato/api/inventory/v1/inventory_pb";
import { NotificationService } from "@mercato/api/notifications/v1/notifications_pb";
import { OrderService } from "@mercato/api/orders/v1/orders_pb";

/** The wire protocols the edge speaks to browsers. */
export const protocols = {
  json: "Connect JSON",
  binary: "Connect binary",
  "grpc-web": "gRPC-Web",
} as const;
export type Protocol = keyof typeof protocols;

/** Every call ends within this, deadline included in the request (connect-timeout-ms / grpc-timeout). */
const callTimeoutMs = 10_000;

/** A signed-in end user: the access token and who it belongs to. */
export interface Session {
  token: string;
  expiresAt: number; // ms since the epoch
  customer: { id: string; email: string; name: string; admin: boolean };
}

const sessionKey = "mercato.session";

/** The session of this tab, if one was saved and has not expired. */
export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(sessionKey);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Session;
    if (typeof s.token !== "string" || typeof s.expiresAt !== "number" || s.expiresAt <= Date.now()) {
      sessionStorage.removeItem(sessionKey);
      return undefined;
    }
    return s;
  } catch {
    sessionStorage.removeItem(sessionKey);
    return undefined;
  }
}

/**
 * saveSession keeps the token in sessionStorage: it survives a reload of this tab, not the tab
 * itself, and no cookie carries it (the edge allows no credentials; the token travels only in the
 * Authorization header this page adds).
 */
export function saveSession(token: string, expiresInSeconds: bigint, c: Customer | undefined): Session {
  const s: Session = {
    token,
    // A little early, so a call never leaves with a token about to expire.
    expiresAt: Date.now() + Number(expiresInSeconds) * 1000 - 30_000,
    customer: {
      id: c?.customerId ?? "",
      email: c?.email ?? "",
      name: c?.displayName ?? "",
      admin: c?.roles.includes("admin") ?? false,
    },
  };
  sessionStorage.setItem(sessionKey, JSON.stringify(s));
  return s;
}

export function clearSession(): void {
  sessionStorage.removeItem(sessionKey);
}

/** The clients of the public services, over one transport. */
export interface Api {
  protocol: Protocol;
  edge: string;
  customers: Client<typeof CustomerService>;
  inventory: Client<typeof InventoryService>;
  orders: Client<typeof OrderService>;
  notifications: Client<typeof NotificationService>;
}

/**
 * createApi builds the clients. token() is read on every call: a signed-in user's calls carry
 * "Authorization: Bearer …"; anonymous calls carry nothing. onUnauthenticated runs when the edge
 * refuses the token (expired or signed with a retired key).
 */
export function createApi(edge: string, protocol: Protocol, token: () => string | undefined, onUnauthenticated: () => void): Api {
  const auth: Interceptor = (next) => async (req) => {
    const t = token();
    if (t) req.header.set("Authorization", `Bearer ${t}`);
    try {
      return await next(req);
    } catch (err) {
      if (t && ConnectError.from(err).code === Code.Unauthenticated) onUnauthenticated();
      throw err;
    }
  };
  const transport = makeTransport(edge, protocol, [auth]);
  return {
    protocol,
    edge,
    customers: createClient(CustomerService, transport),
    inventory: createClient(InventoryService, transport),
    orders: createClient(OrderService, transport),
    notifications: createClient(NotificationService, transport),
  };
}

function makeTransport(baseUrl: string, protocol: Protocol, interceptors: Interceptor[]): Transport {
  switch (protocol) {
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, interceptors, defaultTimeoutMs: callTimeoutMs });
    case "binary":
    case "json":
      return createConnectTransport({
        baseUrl,
        interceptors,
        defaultTimeoutMs: callTimeoutMs,
        useBinaryFormat: protocol === "binary",
        // Reads without side effects go as GET: an anonymous one is a CORS-simple request (no
        // preflight), and caches may keep it.
        useHttpGet: true,
      });
  }
}
