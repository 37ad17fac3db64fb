#!/usr/bin/env bash
# Mercato with buf curl: any of the three protocols, request and response as JSON, described
# by the committed schema image (proto/schema.binpb: offline, no generate step, no reflection
# through the edge). buf comes from the npm workspace (`npm ci`: node_modules/.bin/buf, 1.75.0).
# Runs from the repository root while `make up` runs (EDGE, CA, EMAIL, PASSWORD override).
set -euo pipefail
EDGE=${EDGE:-https://localhost:8443}
CA=${CA:-.data/edge/ca.pem}
EMAIL=${EMAIL:-demo@mercato.local}
PASSWORD=${PASSWORD:-mercato-demo-pass}
BUF=${BUF:-node_modules/.bin/buf}

# bufcurl ARGS…: buf curl with the schema image, the edge's CA and a 10 s limit per call.
bufcurl() { "$BUF" curl --timeout 10s --schema proto/schema.binpb --cacert "$CA" "$@"; }

for protocol in connect grpc grpcweb; do
  bufcurl --protocol "$protocol" -d '{"pageSize": 2}' "$EDGE/mercato.inventory.v1.InventoryService/ListProducts" |
    jq -c --arg p "$protocol" '{protocol: $p, products: [.products[].name]}'
done

# buf curl decodes error details with the schema: the violations, with their field paths.
{ bufcurl --protocol grpc -d '{"email": "not-an-email", "password": "short"}' \
  "$EDGE/mercato.customers.v1.CustomerService/CreateCustomer" 2>&1 || true; } |
  jq -c '{code, violations: [.details[].debug.violations[] | {field: ([.field.elements[].fieldName] | join(".")), message}]}'

# With the end user's token: their orders.
SIGNIN=$(bufcurl -d "$(jq -n --arg e "$EMAIL" --arg p "$PASSWORD" '{email: $e, password: $p}')" \
  "$EDGE/mercato.customers.v1.CustomerService/SignIn")
bufcurl -H "Authorization: Bearer $(jq -r .accessToken <<<"$SIGNIN")" \
  -d "$(jq -c '{customerId: .customer.customerId, pageSize: 5}' <<<"$SIGNIN")" \
  "$EDGE/mercato.orders.v1.OrderService/ListOrders" | jq -c '{orders: [.orders[]? | {orderId, status}]}'
