package issuer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"
)

const (
	// gracePeriod bounds how long Serve waits for calls to end when stopping.
	gracePeriod = 5 * time.Second
	// staleProbeTimeout bounds the check that an existing socket is dead.
	staleProbeTimeout = 500 * time.Millisecond
)

// Serve listens on the socket and serves the Workload API and SDS until ctx
// is done, then ends every stream with Unavailable, stops gracefully and
// removes the socket. It may be called once.
func (i *Issuer) Serve(ctx context.Context) error {
	if !i.serving.CompareAndSwap(false, true) {
		return errors.New("issuer: Serve called twice")
	}
	lis, err := listen(i.cfg.SocketPath)
	if err != nil {
		return err
	}
	srv := i.grpcServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	refreshed := make(chan struct{})
	go func() { defer close(refreshed); i.refreshLoop(ctx) }()
	i.log.Info("serving the Workload API and SDS", "socket", i.cfg.SocketPath, "trust_domain", i.cfg.TrustDomain.String(),
		"svid_ttl", i.cfg.SVIDTTL.String(), "ca_ttl", i.cfg.CATTL.String())
	close(i.ready)

	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("serve: %w", err)
	}
	i.stop(srv)
	<-refreshed
	if rmErr := os.Remove(i.cfg.SocketPath); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("remove socket: %w", rmErr))
	}
	return err
}

func (i *Issuer) grpcServer() *grpc.Server {
	srv := grpc.NewServer(
		grpc.Creds(peerCredentials{}),
		grpc.ChainUnaryInterceptor(unaryHeaderCheck),
		grpc.ChainStreamInterceptor(streamHeaderCheck),
	)
	workload.RegisterSpiffeWorkloadAPIServer(srv, workloadAPI{iss: i})
	secretv3.RegisterSecretDiscoveryServiceServer(srv, sdsAPI{iss: i})
	return srv
}

// stop ends every stream, then waits a grace period for calls to finish.
func (i *Issuer) stop(srv *grpc.Server) {
	close(i.stopping)
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(gracePeriod):
		srv.Stop()
		<-done
	}
	i.log.Info("stopped", "socket", i.cfg.SocketPath)
}

// refreshLoop renews SVIDs at half their lifetime and moves the CA phases
// on, waking open streams when something changed, until ctx is done.
func (i *Issuer) refreshLoop(ctx context.Context) {
	tick := time.NewTicker(refreshInterval(i.cfg.SVIDTTL))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-i.stopping:
			return
		case now := <-tick.C:
			i.refresh(now)
		}
	}
}

func (i *Issuer) refresh(now time.Time) {
	if _, err := i.keys.advance(now); err != nil {
		i.log.Error("CA state", "err", err)
	}
	if i.svids.dropDue(now) {
		i.hub.broadcast() // streams fetch fresh SVIDs
	}
}

// refreshInterval checks often enough that an SVID is renewed within a
// twentieth of its lifetime after half of it, between 50ms and 5s.
func refreshInterval(ttl time.Duration) time.Duration {
	return min(max(ttl/20, 50*time.Millisecond), 5*time.Second)
}

// listen creates the socket's directory (0755), removes a stale socket left
// by a previous run, and listens.
func listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return lis, nil
}

// removeStaleSocket removes a socket nobody answers on; a live one, or a
// file that is no socket, is an error.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check socket: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if conn, err := net.DialTimeout("unix", path, staleProbeTimeout); err == nil {
		conn.Close()
		return fmt.Errorf("%s is in use: another issuer (or agent) is serving it", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}
