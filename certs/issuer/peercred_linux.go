package issuer

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// readPeerCred asks the kernel for the credentials the peer had when it
// connected.
func readPeerCred(conn *net.UnixConn) (peerInfo, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return peerInfo{}, err
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return peerInfo{}, err
	}
	if credErr != nil {
		return peerInfo{}, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	return peerInfo{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
}
