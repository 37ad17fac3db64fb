-- +goose Up
-- create "notifications" table
CREATE TABLE "notifications" ("id" uuid NOT NULL, "create_time" timestamptz NOT NULL, "event_id" uuid NOT NULL, "customer_id" uuid NOT NULL, "order_id" uuid NOT NULL, "kind" character varying NOT NULL, "subject" character varying NOT NULL, "body" text NOT NULL, PRIMARY KEY ("id"));
-- create index "notification_customer_id_create_time" to table: "notifications"
CREATE INDEX "notification_customer_id_create_time" ON "notifications" ("customer_id", "create_time");
-- create index "notifications_event_id_key" to table: "notifications"
CREATE UNIQUE INDEX "notifications_event_id_key" ON "notifications" ("event_id");

-- +goose Down
-- reverse: create index "notifications_event_id_key" to table: "notifications"
DROP INDEX "notifications_event_id_key";
-- reverse: create index "notification_customer_id_create_time" to table: "notifications"
DROP INDEX "notification_customer_id_create_time";
-- reverse: create "notifications" table
DROP TABLE "notifications";
