package issuer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
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

// readImage reads what the process with that pid runs now: the executable
// /proc/<pid>/exe points to (path, device and inode: a file replaced at the
// same path is another file) and its effective uid and gid. The executable
// of another user's process is unreadable to an unprivileged issuer: it is
// left empty, and such a caller can match uid and gid selectors only.
func readImage(pid int32) (image, error) {
	dir := "/proc/" + strconv.Itoa(int(pid))
	var img image
	exe, err := os.Readlink(dir + "/exe")
	switch {
	case err == nil:
		var st unix.Stat_t
		if err := unix.Stat(dir+"/exe", &st); err != nil {
			return image{}, fmt.Errorf("stat executable: %w", err)
		}
		img.exe, img.dev, img.ino = exe, st.Dev, st.Ino
	case !errors.Is(err, os.ErrPermission):
		return image{}, fmt.Errorf("read executable: %w", err)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return image{}, fmt.Errorf("read status: %w", err)
	}
	uid, err := effectiveID(status, "Uid:")
	if err != nil {
		return image{}, err
	}
	gid, err := effectiveID(status, "Gid:")
	if err != nil {
		return image{}, err
	}
	img.uid, img.gid = uid, gid
	return img, nil
}

// effectiveID reads the effective ID (the second of real, effective, saved,
// filesystem) from the line of /proc/<pid>/status that starts with key.
func effectiveID(status []byte, key string) (uint32, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 3 || string(fields[0]) != key {
			continue
		}
		id, err := strconv.ParseUint(string(fields[2]), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("status %s %q: %w", key, fields[2], err)
		}
		return uint32(id), nil
	}
	return 0, fmt.Errorf("status has no %s line", key)
}
