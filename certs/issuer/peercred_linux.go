package issuer

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// readPeerCred asks the kernel for the credentials the peer had when it
// connected, and for a handle on that very process (SO_PEERPIDFD, Linux
// 6.5+) when the kernel has one.
func readPeerCred(conn *net.UnixConn) (peerInfo, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return peerInfo{}, err
	}
	var cred *unix.Ucred
	var credErr error
	pidfd := -1
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD); err == nil {
			pidfd = n
		}
	})
	if err != nil {
		return peerInfo{}, err
	}
	if credErr != nil {
		return peerInfo{}, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	info := peerInfo{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}
	if pidfd >= 0 {
		info.proc = &process{fd: pidfd}
	}
	return info, nil
}

// process is a pidfd: it stays bound to the process that connected, even
// once that process has exited and its pid is reused.
type process struct {
	mu sync.Mutex
	fd int // -1 once released
}

// alive reports whether the process that connected still runs. Checked
// after reading /proc/<pid>/exe, it proves the pid was not reused by
// another program in between.
func (p *process) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fd < 0 {
		return false
	}
	return !errors.Is(unix.PidfdSendSignal(p.fd, 0, nil, 0), unix.ESRCH)
}

func (p *process) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}
