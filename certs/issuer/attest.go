package issuer

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// image is what a process runs at one moment: the executable (its path,
// and the device and inode that tell a file replaced at that path from the
// original) and its effective uid and gid.
type image struct {
	exe      string
	dev, ino uint64
	uid, gid uint32
}

// caller is an attested workload: its process credentials and the selectors
// they make true.
type caller struct {
	pid       int32
	uid       uint32
	gid       uint32
	exe       string // "" when the issuer may not read it
	selectors map[string]bool
	conn      peerInfo // the connection it calls on, to check it again
}

// attest identifies the process behind the call's connection as what it was
// when the connection was accepted.
func attest(ctx context.Context) (caller, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return caller{}, status.Error(codes.Internal, "no peer on the call")
	}
	info, ok := p.AuthInfo.(peerInfo)
	if !ok || info.PID == 0 {
		return caller{}, status.Errorf(codes.Internal, "no peer credentials on the call (auth info %T)", p.AuthInfo)
	}
	c := caller{pid: info.PID, uid: info.UID, gid: info.GID, exe: info.bound.exe, conn: info, selectors: map[string]bool{
		selector{kind: selectorUID, value: strconv.FormatUint(uint64(info.UID), 10)}.String(): true,
		selector{kind: selectorGID, value: strconv.FormatUint(uint64(info.GID), 10)}.String(): true,
	}}
	if c.exe != "" {
		c.selectors[selector{kind: selectorPath, value: c.exe}.String()] = true
	}
	return c, nil // viewFor checks c.unchanged before anything is sent
}

// unchanged refuses the caller when the process behind its connection is no
// longer the one attested at accept: it has exited (its pid may be another
// program's by now), exec'd another executable, or changed uid or gid. A
// connection passed to another process keeps the identity of the process
// that connected, and loses it when that one execs.
func (c caller) unchanged() error {
	info := c.conn
	if info.boundErr != nil {
		return status.Errorf(codes.PermissionDenied, "caller (pid %d) could not be attested when it connected: %v", info.PID, info.boundErr)
	}
	now, err := readImage(info.PID)
	if info.proc != nil && !info.proc.alive() {
		return status.Errorf(codes.PermissionDenied, "caller (pid %d) has exited since it connected", info.PID)
	}
	if err != nil {
		return status.Errorf(codes.PermissionDenied, "caller (pid %d) cannot be read any more: %v", info.PID, err)
	}
	if now != info.bound {
		return status.Errorf(codes.PermissionDenied, "caller (pid %d) is no longer the program that connected: %s", info.PID, describeChange(info.bound, now))
	}
	return nil
}

// describeChange names what differs between two images.
func describeChange(was, now image) string {
	switch {
	case was.exe != now.exe:
		return fmt.Sprintf("executable %s, now %s", was.exe, now.exe)
	case was.dev != now.dev || was.ino != now.ino:
		return fmt.Sprintf("executable %s replaced (inode %d:%d, now %d:%d)", was.exe, was.dev, was.ino, now.dev, now.ino)
	default:
		return fmt.Sprintf("uid/gid %d/%d, now %d/%d", was.uid, was.gid, now.uid, now.gid)
	}
}

// logAttrs describes the caller in logs.
func (c caller) logAttrs() []any {
	return []any{slog.Int("pid", int(c.pid)), slog.Int("uid", int(c.uid)), slog.Int("gid", int(c.gid)), slog.String("exe", c.exe)}
}
