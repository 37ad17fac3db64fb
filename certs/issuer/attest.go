package issuer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// caller is an attested workload: its process credentials and the selectors
// they make true.
type caller struct {
	pid       int32
	uid       uint32
	gid       uint32
	exe       string // "" when it could not be read
	selectors map[string]bool
}

// attest identifies the process behind the call's connection.
func attest(ctx context.Context) (caller, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return caller{}, status.Error(codes.Internal, "no peer on the call")
	}
	info, ok := p.AuthInfo.(peerInfo)
	if !ok || info.PID == 0 {
		return caller{}, status.Errorf(codes.Internal, "no peer credentials on the call (auth info %T)", p.AuthInfo)
	}
	c := caller{pid: info.PID, uid: info.UID, gid: info.GID, selectors: map[string]bool{
		selector{kind: selectorUID, value: strconv.FormatUint(uint64(info.UID), 10)}.String(): true,
		selector{kind: selectorGID, value: strconv.FormatUint(uint64(info.GID), 10)}.String(): true,
	}}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", info.PID)); err == nil {
		c.exe = exe
		c.selectors[selector{kind: selectorPath, value: exe}.String()] = true
	}
	if info.proc != nil && !info.proc.alive() {
		// Its pid may belong to another program by now: /proc told us nothing.
		return caller{}, status.Errorf(codes.PermissionDenied, "caller (pid %d) exited before it was attested", info.PID)
	}
	return c, nil
}

// logAttrs describes the caller in logs.
func (c caller) logAttrs() []any {
	return []any{slog.Int("pid", int(c.pid)), slog.Int("uid", int(c.uid)), slog.Int("gid", int(c.gid)), slog.String("exe", c.exe)}
}
