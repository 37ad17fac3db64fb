-- +goose Up
-- Hand-written: Atlas rebuilds the table for this change, but a rebuild drops "orders" under
-- enforced foreign keys (PRAGMA foreign_keys cannot change inside goose's transaction), which
-- would touch order_items. SQLite adds these columns in place.
ALTER TABLE `orders` ADD COLUMN `reject_message` text NULL;
ALTER TABLE `orders` ADD COLUMN `payment_method` text NOT NULL DEFAULT ('');
ALTER TABLE `orders` ADD COLUMN `cancel_reason` text NULL;

-- +goose Down
ALTER TABLE `orders` DROP COLUMN `cancel_reason`;
ALTER TABLE `orders` DROP COLUMN `payment_method`;
ALTER TABLE `orders` DROP COLUMN `reject_message`;
