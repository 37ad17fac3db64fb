-- +goose Up
-- create "order_holds" table
CREATE TABLE "order_holds" ("id" uuid NOT NULL, "create_time" timestamptz NOT NULL, "update_time" timestamptz NOT NULL, "state" character varying NOT NULL DEFAULT 'reserved', PRIMARY KEY ("id"));

-- +goose Down
-- reverse: create "order_holds" table
DROP TABLE "order_holds";
