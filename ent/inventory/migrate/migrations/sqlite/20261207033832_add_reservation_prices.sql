-- +goose Up
-- add column "unit_price_minor" to table: "reservations"
ALTER TABLE `reservations` ADD COLUMN `unit_price_minor` integer NULL;
-- add column "currency" to table: "reservations"
ALTER TABLE `reservations` ADD COLUMN `currency` text NULL;

-- +goose Down
-- reverse: add column "currency" to table: "reservations"
ALTER TABLE `reservations` DROP COLUMN `currency`;
-- reverse: add column "unit_price_minor" to table: "reservations"
ALTER TABLE `reservations` DROP COLUMN `unit_price_minor`;
