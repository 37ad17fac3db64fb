-- +goose Up
-- create "notifications" table
CREATE TABLE `notifications` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `event_id` uuid NOT NULL, `customer_id` uuid NOT NULL, `order_id` uuid NOT NULL, `kind` text NOT NULL, `subject` text NOT NULL, `body` text NOT NULL, PRIMARY KEY (`id`));
-- create index "notifications_event_id_key" to table: "notifications"
CREATE UNIQUE INDEX `notifications_event_id_key` ON `notifications` (`event_id`);
-- create index "notification_customer_id_create_time" to table: "notifications"
CREATE INDEX `notification_customer_id_create_time` ON `notifications` (`customer_id`, `create_time`);

-- +goose Down
-- reverse: create index "notification_customer_id_create_time" to table: "notifications"
DROP INDEX `notification_customer_id_create_time`;
-- reverse: create index "notifications_event_id_key" to table: "notifications"
DROP INDEX `notifications_event_id_key`;
-- reverse: create "notifications" table
DROP TABLE `notifications`;
