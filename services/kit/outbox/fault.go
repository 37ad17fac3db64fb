//go:build !faultinject

package outbox

// faultAfterPublish is the fault point between publishing a batch and marking it sent; it
// does nothing unless built with -tags faultinject.
func faultAfterPublish() {}
