#!/usr/bin/env bash
# Mercato with plain curl and JSON (Connect's unary protocol): list products, see a validation
# error with its field paths, sign in, place an order, read it back. Needs curl and jq; runs
# from the repository root while `make up` runs (EDGE, CA, EMAIL, PASSWORD override).
set -euo pipefail
EDGE=${EDGE:-https://localhost:8443}
CA=${CA:-.data/edge/ca.pem}
EMAIL=${EMAIL:-demo@mercato.local}
PASSWORD=${PASSWORD:-mercato-demo-pass}

# call METHOD JSON [curl options…]: POST JSON to /<package>.<Service>/<Method>, 10 s at most.
call() {
  curl -sS --max-time 10 --cacert "$CA" -H 'Content-Type: application/json' -d "$2" "${@:3}" "$EDGE/$1"
}

# The first product in stock (int64 fields such as available are JSON strings).
PRODUCT=$(call mercato.inventory.v1.InventoryService/ListProducts '{"pageSize": 20}' |
  jq -r '[.products[] | select((.available // "0" | tonumber) > 0)][0].productId')
echo "first product in stock: $PRODUCT"

# A bad request: HTTP 400, code invalid_argument; the violations (field paths and messages) are
# a buf.validate.Violations detail (base64 protobuf in .details[].value).
call mercato.customers.v1.CustomerService/CreateCustomer '{"email": "not-an-email", "password": "short"}' |
  jq -c '{code, message}'

SIGNIN=$(call mercato.customers.v1.CustomerService/SignIn "$(jq -n --arg e "$EMAIL" --arg p "$PASSWORD" '{email: $e, password: $p}')")
TOKEN=$(jq -r .accessToken <<<"$SIGNIN")
CUSTOMER=$(jq -r .customer.customerId <<<"$SIGNIN")

ORDER=$(call mercato.orders.v1.OrderService/CreateOrder \
  "$(jq -n --arg c "$CUSTOMER" --arg p "$PRODUCT" --arg k "curl-$(date +%s%N)" \
    '{customerId: $c, idempotencyKey: $k, items: [{productId: $p, quantity: 1}], paymentMethod: "pm_card_visa"}')" \
  -H "Authorization: Bearer $TOKEN" | jq -r .order.orderId)
call mercato.orders.v1.OrderService/GetOrder "{\"orderId\": \"$ORDER\"}" -H "Authorization: Bearer $TOKEN" |
  jq -c '.order | {orderId, status, total}'
