// Package stock is the inventory domain: products with their price and available stock, and
// the reservations that hold stock for orders. It states the rules (stock never goes negative, a
// reservation is all items or none and keyed by its order, a released order stays released) and
// the errors that break them, and leaves storage to a Store.
package stock
