-- +goose Up
-- create "orders" table
CREATE TABLE "orders" ("id" uuid NOT NULL, "create_time" timestamptz NOT NULL, "update_time" timestamptz NOT NULL, "customer_id" uuid NOT NULL, "idempotency_key" character varying NOT NULL, "request_hash" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'pending', "reject_reason" character varying NULL, "total_minor" bigint NOT NULL, "currency" character varying NOT NULL, "saga_step" character varying NOT NULL DEFAULT 'created', "payment_id" uuid NULL, "lease_owner" character varying NULL, "lease_expires_at" timestamptz NULL, "attempts" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"), CONSTRAINT "order_total_non_negative" CHECK (total_minor >= 0));
-- create index "order_customer_id_create_time" to table: "orders"
CREATE INDEX "order_customer_id_create_time" ON "orders" ("customer_id", "create_time");
-- create index "order_customer_id_idempotency_key" to table: "orders"
CREATE UNIQUE INDEX "order_customer_id_idempotency_key" ON "orders" ("customer_id", "idempotency_key");
-- create index "order_status_lease_expires_at" to table: "orders"
CREATE INDEX "order_status_lease_expires_at" ON "orders" ("status", "lease_expires_at");
-- create "outbox_events" table
CREATE TABLE "outbox_events" ("id" uuid NOT NULL, "subject" character varying NOT NULL, "payload" bytea NOT NULL, "headers" jsonb NULL, "status" character varying NOT NULL DEFAULT 'pending', "claimed_by" character varying NULL, "claimed_until" timestamptz NULL, "attempts" bigint NOT NULL DEFAULT 0, "create_time" timestamptz NOT NULL, "sent_time" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "outboxevent_status_create_time" to table: "outbox_events"
CREATE INDEX "outboxevent_status_create_time" ON "outbox_events" ("status", "create_time");
-- create "order_items" table
CREATE TABLE "order_items" ("id" uuid NOT NULL, "product_id" uuid NOT NULL, "quantity" bigint NOT NULL, "unit_price_minor" bigint NOT NULL, "order_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "order_items_orders_items" FOREIGN KEY ("order_id") REFERENCES "orders" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "order_item_quantity_positive" CHECK (quantity > 0));
-- create index "orderitem_order_id_product_id" to table: "order_items"
CREATE UNIQUE INDEX "orderitem_order_id_product_id" ON "order_items" ("order_id", "product_id");

-- +goose Down
-- reverse: create index "orderitem_order_id_product_id" to table: "order_items"
DROP INDEX "orderitem_order_id_product_id";
-- reverse: create "order_items" table
DROP TABLE "order_items";
-- reverse: create index "outboxevent_status_create_time" to table: "outbox_events"
DROP INDEX "outboxevent_status_create_time";
-- reverse: create "outbox_events" table
DROP TABLE "outbox_events";
-- reverse: create index "order_status_lease_expires_at" to table: "orders"
DROP INDEX "order_status_lease_expires_at";
-- reverse: create index "order_customer_id_idempotency_key" to table: "orders"
DROP INDEX "order_customer_id_idempotency_key";
-- reverse: create index "order_customer_id_create_time" to table: "orders"
DROP INDEX "order_customer_id_create_time";
-- reverse: create "orders" table
DROP TABLE "orders";
