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
