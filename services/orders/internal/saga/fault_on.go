//go:build faultinject

package saga

import (
	"os"
	"syscall"
)

// FaultsCompiled reports whether this binary can inject faults (-tags faultinject).
const FaultsCompiled = true

// fault kills the process at point when the configured fault names it: no deferred code, no
// graceful shutdown, exactly like a crash.
func (s *Saga) fault(point string) {
	if s.opts.Fault == point {
		s.log.Warn("fault injection: killing the process", "fault", point)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is asynchronous; never carry on past the fault
	}
}
