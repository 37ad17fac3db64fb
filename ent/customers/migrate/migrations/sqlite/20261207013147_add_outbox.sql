-- +goose Up
-- create "outbox_events" table
CREATE TABLE `outbox_events` (`id` uuid NOT NULL, `subject` text NOT NULL, `payload` blob NOT NULL, `headers` json NULL, `status` text NOT NULL DEFAULT ('pending'), `claimed_by` text NULL, `claimed_until` datetime NULL, `attempts` integer NOT NULL DEFAULT (0), `create_time` datetime NOT NULL, `sent_time` datetime NULL, PRIMARY KEY (`id`));
-- create index "outboxevent_status_create_time" to table: "outbox_events"
CREATE INDEX `outboxevent_status_create_time` ON `outbox_events` (`status`, `create_time`);

-- +goose Down
-- reverse: create index "outboxevent_status_create_time" to table: "outbox_events"
DROP INDEX `outboxevent_status_create_time`;
-- reverse: create "outbox_events" table
DROP TABLE `outbox_events`;
