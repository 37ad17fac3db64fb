-- +goose Up
-- modify "orders" table
ALTER TABLE "orders" ADD COLUMN "reject_message" character varying NULL, ADD COLUMN "payment_method" character varying NOT NULL DEFAULT '', ADD COLUMN "cancel_reason" character varying NULL;

-- +goose Down
-- reverse: modify "orders" table
ALTER TABLE "orders" DROP COLUMN "cancel_reason", DROP COLUMN "payment_method", DROP COLUMN "reject_message";
