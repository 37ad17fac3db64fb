//go:build !linux

package issuer

import (
	"errors"
	"net"
)

// readPeerCred is implemented on Linux only: the issuer attests callers with
// SO_PEERCRED and /proc.
func readPeerCred(*net.UnixConn) (peerInfo, error) {
	return peerInfo{}, errors.New("attesting callers needs Linux (SO_PEERCRED and /proc)")
}

// process is a handle on the connecting process; none outside Linux.
type process struct{}

func (*process) alive() bool { return false }
func (*process) release()    {}

// readImage is implemented on Linux only.
func readImage(int32) (image, error) {
	return image{}, errors.New("attesting callers needs Linux (/proc)")
}
