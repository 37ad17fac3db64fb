-- +goose Up
-- create "products" table
CREATE TABLE `products` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `sku` text NOT NULL, `name` text NOT NULL, `description` text NOT NULL DEFAULT (''), `price_minor` integer NOT NULL, `currency` text NOT NULL, `available` integer NOT NULL DEFAULT (0), `version` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`), CONSTRAINT `product_available_non_negative` CHECK (available >= 0), CONSTRAINT `product_price_non_negative` CHECK (price_minor >= 0));
-- create index "products_sku_key" to table: "products"
CREATE UNIQUE INDEX `products_sku_key` ON `products` (`sku`);
-- create "reservations" table
CREATE TABLE `reservations` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `order_id` uuid NOT NULL, `quantity` integer NOT NULL, `state` text NOT NULL DEFAULT ('reserved'), `product_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `reservations_products_reservations` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`) ON DELETE NO ACTION, CONSTRAINT `reservation_quantity_positive` CHECK (quantity > 0));
-- create index "reservation_order_id_product_id" to table: "reservations"
CREATE UNIQUE INDEX `reservation_order_id_product_id` ON `reservations` (`order_id`, `product_id`);
-- create "stock_adjustments" table
CREATE TABLE `stock_adjustments` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `delta` integer NOT NULL, `reason` text NOT NULL DEFAULT (''), `product_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `stock_adjustments_products_adjustments` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`) ON DELETE NO ACTION);
-- create index "stockadjustment_product_id_create_time" to table: "stock_adjustments"
CREATE INDEX `stockadjustment_product_id_create_time` ON `stock_adjustments` (`product_id`, `create_time`);

-- +goose Down
-- reverse: create index "stockadjustment_product_id_create_time" to table: "stock_adjustments"
DROP INDEX `stockadjustment_product_id_create_time`;
-- reverse: create "stock_adjustments" table
DROP TABLE `stock_adjustments`;
-- reverse: create index "reservation_order_id_product_id" to table: "reservations"
DROP INDEX `reservation_order_id_product_id`;
-- reverse: create "reservations" table
DROP TABLE `reservations`;
-- reverse: create index "products_sku_key" to table: "products"
DROP INDEX `products_sku_key`;
-- reverse: create "products" table
DROP TABLE `products`;
