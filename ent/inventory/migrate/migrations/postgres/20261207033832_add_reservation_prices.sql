-- +goose Up
-- modify "reservations" table
ALTER TABLE "reservations" ADD COLUMN "unit_price_minor" bigint NULL, ADD COLUMN "currency" character varying NULL;

-- +goose Down
-- reverse: modify "reservations" table
ALTER TABLE "reservations" DROP COLUMN "currency", DROP COLUMN "unit_price_minor";
