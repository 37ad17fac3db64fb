//go:build faultinject

package outbox

import (
	"os"
	"syscall"
)

// faultAfterPublish kills the process with SIGKILL, between publishing a batch and marking it
// sent, when OUTBOX_FAULT is "kill-after-publish": the crash the relay must survive. Built only
// with -tags faultinject, for tests.
func faultAfterPublish() {
	if os.Getenv("OUTBOX_FAULT") == "kill-after-publish" {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered before anything else runs
	}
}
