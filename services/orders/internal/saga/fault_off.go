//go:build !faultinject

package saga

// FaultsCompiled reports whether this binary can inject faults (-tags faultinject).
const FaultsCompiled = false

// fault does nothing in binaries built without -tags faultinject.
func (s *Saga) fault(string) {}
