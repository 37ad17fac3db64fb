-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_reservations" table
CREATE TABLE `new_reservations` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `order_id` uuid NOT NULL, `quantity` integer NOT NULL, `state` text NOT NULL DEFAULT ('reserved'), `unit_price_minor` integer NULL, `currency` text NULL, `product_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `reservations_products_reservations` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`) ON DELETE NO ACTION, CONSTRAINT `reservation_price_non_negative` CHECK (unit_price_minor >= 0), CONSTRAINT `reservation_quantity_positive` CHECK (quantity > 0));
-- copy rows from old table "reservations" to new temporary table "new_reservations"
INSERT INTO `new_reservations` (`id`, `create_time`, `update_time`, `order_id`, `quantity`, `state`, `product_id`) SELECT `id`, `create_time`, `update_time`, `order_id`, `quantity`, `state`, `product_id` FROM `reservations`;
-- drop "reservations" table after copying rows
DROP TABLE `reservations`;
-- rename temporary table "new_reservations" to "reservations"
ALTER TABLE `new_reservations` RENAME TO `reservations`;
-- create index "reservation_order_id_product_id" to table: "reservations"
CREATE UNIQUE INDEX `reservation_order_id_product_id` ON `reservations` (`order_id`, `product_id`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "reservation_order_id_product_id" to table: "reservations"
DROP INDEX `reservation_order_id_product_id`;
-- reverse: create "new_reservations" table
DROP TABLE `new_reservations`;
