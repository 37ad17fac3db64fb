-- +goose Up
-- create "outbox_events" table
CREATE TABLE `outbox_events` (`id` uuid NOT NULL, `subject` text NOT NULL, `payload` blob NOT NULL, `headers` json NULL, `status` text NOT NULL DEFAULT ('pending'), `claimed_by` text NULL, `claimed_until` datetime NULL, `attempts` integer NOT NULL DEFAULT (0), `create_time` datetime NOT NULL, `sent_time` datetime NULL, PRIMARY KEY (`id`));
-- create index "outboxevent_status_create_time" to table: "outbox_events"
CREATE INDEX `outboxevent_status_create_time` ON `outbox_events` (`status`, `create_time`);
-- create "payments" table
CREATE TABLE `payments` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `order_id` uuid NOT NULL, `customer_id` uuid NOT NULL, `amount_minor` integer NOT NULL, `currency` text NOT NULL, `payment_method` text NOT NULL, `status` text NOT NULL, `decline_reason` text NULL, PRIMARY KEY (`id`), CONSTRAINT `payment_amount_non_negative` CHECK (amount_minor >= 0));
-- create index "payments_order_id_key" to table: "payments"
CREATE UNIQUE INDEX `payments_order_id_key` ON `payments` (`order_id`);
-- create index "payment_customer_id_create_time" to table: "payments"
CREATE INDEX `payment_customer_id_create_time` ON `payments` (`customer_id`, `create_time`);

-- +goose Down
-- reverse: create index "payment_customer_id_create_time" to table: "payments"
DROP INDEX `payment_customer_id_create_time`;
-- reverse: create index "payments_order_id_key" to table: "payments"
DROP INDEX `payments_order_id_key`;
-- reverse: create "payments" table
DROP TABLE `payments`;
-- reverse: create index "outboxevent_status_create_time" to table: "outbox_events"
DROP INDEX `outboxevent_status_create_time`;
-- reverse: create "outbox_events" table
DROP TABLE `outbox_events`;
