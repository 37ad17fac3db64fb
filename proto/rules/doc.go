// Package rules holds no code: its tests check that the protovalidate rules
// written in proto/mercato behave as the contracts promise (which request is
// refused, and with which field paths), using buf.build/go/protovalidate, the
// same validator the services run before every handler.
package rules
