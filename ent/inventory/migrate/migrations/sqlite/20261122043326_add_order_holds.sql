-- +goose Up
-- create "order_holds" table
CREATE TABLE `order_holds` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `state` text NOT NULL DEFAULT ('reserved'), PRIMARY KEY (`id`));

-- +goose Down
-- reverse: create "order_holds" table
DROP TABLE `order_holds`;
