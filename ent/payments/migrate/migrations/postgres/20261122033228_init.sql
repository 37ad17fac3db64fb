-- +goose Up
-- create "outbox_events" table
CREATE TABLE "outbox_events" ("id" uuid NOT NULL, "subject" character varying NOT NULL, "payload" bytea NOT NULL, "headers" jsonb NULL, "status" character varying NOT NULL DEFAULT 'pending', "claimed_by" character varying NULL, "claimed_until" timestamptz NULL, "attempts" bigint NOT NULL DEFAULT 0, "create_time" timestamptz NOT NULL, "sent_time" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "outboxevent_status_create_time" to table: "outbox_events"
CREATE INDEX "outboxevent_status_create_time" ON "outbox_events" ("status", "create_time");
-- create "payments" table
CREATE TABLE "payments" ("id" uuid NOT NULL, "create_time" timestamptz NOT NULL, "update_time" timestamptz NOT NULL, "order_id" uuid NOT NULL, "customer_id" uuid NOT NULL, "amount_minor" bigint NOT NULL, "currency" character varying NOT NULL, "payment_method" character varying NOT NULL, "status" character varying NOT NULL, "decline_reason" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "payment_amount_non_negative" CHECK (amount_minor >= 0));
-- create index "payment_customer_id_create_time" to table: "payments"
CREATE INDEX "payment_customer_id_create_time" ON "payments" ("customer_id", "create_time");
-- create index "payments_order_id_key" to table: "payments"
CREATE UNIQUE INDEX "payments_order_id_key" ON "payments" ("order_id");

-- +goose Down
-- reverse: create index "payments_order_id_key" to table: "payments"
DROP INDEX "payments_order_id_key";
-- reverse: create index "payment_customer_id_create_time" to table: "payments"
DROP INDEX "payment_customer_id_create_time";
-- reverse: create "payments" table
DROP TABLE "payments";
-- reverse: create index "outboxevent_status_create_time" to table: "outbox_events"
DROP INDEX "outboxevent_status_create_time";
-- reverse: create "outbox_events" table
DROP TABLE "outbox_events";
