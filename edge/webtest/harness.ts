// connect-es clients (Connect JSON, Connect binary, gRPC-Web; @connectrpc/connect-web over
// fetch) calling the edge where it answers itself. One JSON line per call on stdout:
// {"status", "protocol", "code", "message"}. Run by xds/internal/app's
// TestLocalRepliesToConnectES with EDGE_URL, TOKEN_OTHER_AUDIENCE, TOKEN_VALID and
// NODE_EXTRA_CA_CERTS (the edge's dev CA) set.
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

import { CustomerService } from "../../proto/gen/ts/mercato/customers/v1/customers_pb";
import { InventoryService } from "../../proto/gen/ts/mercato/inventory/v1/inventory_pb";
import { PaymentService } from "../../proto/gen/ts/mercato/payments/v1/payments_pb";

const baseUrl = process.env.EDGE_URL!;
const quick = "00000000-0000-4000-8000-000000000001";
const held = "00000000-0000-4000-8000-000000000002";

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("Authorization", "Bearer " + token);
    return next(req);
  };
}

const protocols: Record<string, (i: Interceptor[]) => Transport> = {
  "connect+json": (interceptors) => createConnectTransport({ baseUrl, interceptors }),
  "connect+proto": (interceptors) => createConnectTransport({ baseUrl, interceptors, useBinaryFormat: true }),
  "grpc-web": (interceptors) => createGrpcWebTransport({ baseUrl, interceptors }),
};

type Case = (t: (i?: Interceptor[]) => Transport) => Promise<unknown>;

const cases: Record<number, Case> = {
  401: (t) => createClient(PaymentService, t()).getPayment({ lookup: { case: "orderId", value: quick } }),
  403: (t) =>
    createClient(PaymentService, t([bearer(process.env.TOKEN_OTHER_AUDIENCE!)])).getPayment({ lookup: { case: "orderId", value: quick } }),
  404: (t) => createClient(InventoryService, t()).reserveStock({}),
  413: (t) => createClient(InventoryService, t()).getProduct({ productId: "x".repeat(2 << 20) }),
  429: async (t) => {
    const c = createClient(CustomerService, t());
    for (let i = 0; i < 200; i++) {
      try {
        await c.signIn({ email: "a@example.com", password: "wrong-password" });
      } catch (e) {
        if (ConnectError.from(e).code !== Code.Unauthenticated) throw e;
      }
    }
  },
  503: (t) =>
    createClient(PaymentService, t([bearer(process.env.TOKEN_VALID!)])).getPayment({ lookup: { case: "orderId", value: quick } }),
  504: (t) => createClient(InventoryService, t()).getProduct({ productId: held }),
};

for (const [status, run] of Object.entries(cases)) {
  for (const [protocol, transport] of Object.entries(protocols)) {
    let code = "ok";
    let message = "";
    try {
      await run((i = []) => transport(i));
    } catch (e) {
      const err = ConnectError.from(e);
      code = Code[err.code];
      message = err.rawMessage;
    }
    console.log(JSON.stringify({ status: Number(status), protocol, code, message }));
  }
}
