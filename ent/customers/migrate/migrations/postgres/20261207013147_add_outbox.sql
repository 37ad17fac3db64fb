-- +goose Up
-- create "outbox_events" table
CREATE TABLE "outbox_events" ("id" uuid NOT NULL, "subject" character varying NOT NULL, "payload" bytea NOT NULL, "headers" jsonb NULL, "status" character varying NOT NULL DEFAULT 'pending', "claimed_by" character varying NULL, "claimed_until" timestamptz NULL, "attempts" bigint NOT NULL DEFAULT 0, "create_time" timestamptz NOT NULL, "sent_time" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "outboxevent_status_create_time" to table: "outbox_events"
CREATE INDEX "outboxevent_status_create_time" ON "outbox_events" ("status", "create_time");

-- +goose Down
-- reverse: create index "outboxevent_status_create_time" to table: "outbox_events"
DROP INDEX "outboxevent_status_create_time";
-- reverse: create "outbox_events" table
DROP TABLE "outbox_events";
