package issuer

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc/credentials"
)

// peerInfo is what the kernel says about the process at the other end of
// an accepted unix socket connection.
type peerInfo struct {
	credentials.CommonAuthInfo
	PID  int32
	UID  uint32
	GID  uint32
	proc *process // nil where the kernel gives no process handle
	// bound is what the process was when its connection was accepted; every
	// call on the connection must come from the same image (see attest).
	bound    image
	boundErr error // why the process could not be read at accept
}

// AuthType implements credentials.AuthInfo.
func (peerInfo) AuthType() string { return "peercred" }

// peerCredentials is a server-only gRPC transport credential that adds no
// security to the connection but records the peer's process credentials
// (SO_PEERCRED), the way a SPIRE agent learns who calls its Workload API.
type peerCredentials struct{}

var _ credentials.TransportCredentials = peerCredentials{}

var errServerOnly = errors.New("peer credentials are for the issuer's server side only")

// ServerHandshake reads the peer's credentials from the raw connection.
func (peerCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, nil, fmt.Errorf("peer credentials need a unix socket connection, got %T", conn)
	}
	info, err := readPeerCred(uc)
	if err != nil {
		return nil, nil, fmt.Errorf("read peer credentials: %w", err)
	}
	info.SecurityLevel = credentials.NoSecurity
	info.bound, info.boundErr = bindImage(info)
	if info.proc == nil {
		return conn, info, nil
	}
	return &processConn{Conn: conn, proc: info.proc}, info, nil
}

// ClientHandshake always fails: the issuer never dials.
func (peerCredentials) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errServerOnly
}

// Info implements credentials.TransportCredentials.
func (peerCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "peercred"}
}

// Clone implements credentials.TransportCredentials.
func (peerCredentials) Clone() credentials.TransportCredentials { return peerCredentials{} }

// OverrideServerName implements credentials.TransportCredentials.
func (peerCredentials) OverrideServerName(string) error { return nil }

// processConn releases the peer's process handle with the connection.
type processConn struct {
	net.Conn
	proc *process
}

func (c *processConn) Close() error {
	c.proc.release()
	return c.Conn.Close()
}

// bindImage reads what the peer runs as its connection is accepted. It fails
// when the process is already gone, or when its effective uid or gid is no
// longer the one it connected with (a set-id exec since connect()).
func bindImage(info peerInfo) (image, error) {
	img, err := readImage(info.PID)
	if err != nil {
		return image{}, err
	}
	if info.proc != nil && !info.proc.alive() {
		return image{}, fmt.Errorf("pid %d exited as it connected", info.PID)
	}
	if img.uid != info.UID || img.gid != info.GID {
		return image{}, fmt.Errorf("uid/gid %d/%d at accept, %d/%d at connect", img.uid, img.gid, info.UID, info.GID)
	}
	return img, nil
}
