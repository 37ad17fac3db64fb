-- +goose Up
-- create "orders" table
CREATE TABLE `orders` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `customer_id` uuid NOT NULL, `idempotency_key` text NOT NULL, `request_hash` text NOT NULL, `status` text NOT NULL DEFAULT ('pending'), `reject_reason` text NULL, `total_minor` integer NOT NULL, `currency` text NOT NULL, `saga_step` text NOT NULL DEFAULT ('created'), `payment_id` uuid NULL, `lease_owner` text NULL, `lease_expires_at` datetime NULL, `attempts` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`), CONSTRAINT `order_total_non_negative` CHECK (total_minor >= 0));
-- create index "order_customer_id_idempotency_key" to table: "orders"
CREATE UNIQUE INDEX `order_customer_id_idempotency_key` ON `orders` (`customer_id`, `idempotency_key`);
-- create index "order_status_lease_expires_at" to table: "orders"
CREATE INDEX `order_status_lease_expires_at` ON `orders` (`status`, `lease_expires_at`);
-- create index "order_customer_id_create_time" to table: "orders"
CREATE INDEX `order_customer_id_create_time` ON `orders` (`customer_id`, `create_time`);
-- create "order_items" table
CREATE TABLE `order_items` (`id` uuid NOT NULL, `product_id` uuid NOT NULL, `quantity` integer NOT NULL, `unit_price_minor` integer NOT NULL, `order_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `order_items_orders_items` FOREIGN KEY (`order_id`) REFERENCES `orders` (`id`) ON DELETE CASCADE, CONSTRAINT `order_item_quantity_positive` CHECK (quantity > 0));
-- create index "orderitem_order_id_product_id" to table: "order_items"
CREATE UNIQUE INDEX `orderitem_order_id_product_id` ON `order_items` (`order_id`, `product_id`);
-- create "outbox_events" table
CREATE TABLE `outbox_events` (`id` uuid NOT NULL, `subject` text NOT NULL, `payload` blob NOT NULL, `headers` json NULL, `status` text NOT NULL DEFAULT ('pending'), `claimed_by` text NULL, `claimed_until` datetime NULL, `attempts` integer NOT NULL DEFAULT (0), `create_time` datetime NOT NULL, `sent_time` datetime NULL, PRIMARY KEY (`id`));
-- create index "outboxevent_status_create_time" to table: "outbox_events"
CREATE INDEX `outboxevent_status_create_time` ON `outbox_events` (`status`, `create_time`);

-- +goose Down
-- reverse: create index "outboxevent_status_create_time" to table: "outbox_events"
DROP INDEX `outboxevent_status_create_time`;
-- reverse: create "outbox_events" table
DROP TABLE `outbox_events`;
-- reverse: create index "orderitem_order_id_product_id" to table: "order_items"
DROP INDEX `orderitem_order_id_product_id`;
-- reverse: create "order_items" table
DROP TABLE `order_items`;
-- reverse: create index "order_customer_id_create_time" to table: "orders"
DROP INDEX `order_customer_id_create_time`;
-- reverse: create index "order_status_lease_expires_at" to table: "orders"
DROP INDEX `order_status_lease_expires_at`;
-- reverse: create index "order_customer_id_idempotency_key" to table: "orders"
DROP INDEX `order_customer_id_idempotency_key`;
-- reverse: create "orders" table
DROP TABLE `orders`;
