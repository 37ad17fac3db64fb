-- +goose Up
-- create "customers" table
CREATE TABLE `customers` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `email` text NOT NULL, `display_name` text NOT NULL DEFAULT (''), `password_hash` text NOT NULL, `roles` json NOT NULL, `status` text NOT NULL DEFAULT ('active'), PRIMARY KEY (`id`), CONSTRAINT `customer_email_lower` CHECK (email = lower(email)));
-- create index "customers_email_key" to table: "customers"
CREATE UNIQUE INDEX `customers_email_key` ON `customers` (`email`);
-- create "signing_keys" table
CREATE TABLE `signing_keys` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `kid` text NOT NULL, `private_key_pem` text NOT NULL, `retired` bool NOT NULL DEFAULT (false), PRIMARY KEY (`id`));
-- create index "signing_keys_kid_key" to table: "signing_keys"
CREATE UNIQUE INDEX `signing_keys_kid_key` ON `signing_keys` (`kid`);

-- +goose Down
-- reverse: create index "signing_keys_kid_key" to table: "signing_keys"
DROP INDEX `signing_keys_kid_key`;
-- reverse: create "signing_keys" table
DROP TABLE `signing_keys`;
-- reverse: create index "customers_email_key" to table: "customers"
DROP INDEX `customers_email_key`;
-- reverse: create "customers" table
DROP TABLE `customers`;
