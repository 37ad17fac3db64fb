package kit_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/client"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"
)

const (
	relay = "/kit.test.v1.RelayService/Relay"
	echo  = "/kit.test.v1.EchoService/Echo"
)

var (
	frontID = identity.Service("front")
	backID  = identity.Service("back")
	userID  = identity.Service("loadgen")
)

type stringClient = connect.Client[wrapperspb.StringValue, wrapperspb.StringValue]

func newStringClient(conn *client.Conn, procedure string) *stringClient {
	return connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](conn.HTTPClient, conn.BaseURL+procedure, conn.Options()...)
}

// TestRotationUnderLoad: two kit services (loadgen → front → back, every hop mTLS) with SVIDs
// living 4 s, offered 200 requests/s for 30 s, across more than 5 SVID rotations and one CA
// rotation. Not one request may fail: connections are retired gracefully (GOAWAY) before the
// SVIDs they were made with expire, and new handshakes pick up new SVIDs and bundles.
func TestRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s rotation soak; runs in the full suite (make test)")
	}
	const (
		ttl      = 4 * time.Second
		duration = 30 * time.Second
		rate     = 250 // requests per second offered
		workers  = 16
	)
	env := kittest.Start(t, []spiffeid.ID{frontID, backID, userID}, kittest.WithSVIDTTL(ttl))
	seen := newHandshakeLog()
	back := env.Serve(t, "back", func(s *server.Server) {
		h := connect.NewUnaryHandlerSimple(echo, func(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			return in, nil
		}, s.HandlerOptions()...)
		s.Handle("/kit.test.v1.EchoService/", seen.wrap(h), authz.Rules{echo: authz.Allow(frontID)})
	})
	front := env.Serve(t, "front", func(s *server.Server) {
		conn, err := client.NewFactory(env.Source(t, frontID), nil, nil).Connect(client.Dependency{Name: "back", Addr: back.Addr(), ID: backID})
		if err != nil {
			t.Fatal(err)
		}
		backClient := newStringClient(conn, echo)
		h := connect.NewUnaryHandlerSimple(relay, func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			res, err := backClient.CallUnary(ctx, connect.NewRequest(in))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		}, s.HandlerOptions()...)
		s.Handle("/kit.test.v1.RelayService/", seen.wrap(h), authz.Rules{relay: authz.Allow(userID)})
	})
	userSrc := env.Source(t, userID)
	conn, err := client.NewFactory(userSrc, nil, nil).Connect(client.Dependency{Name: "front", Addr: front.Addr(), ID: frontID})
	if err != nil {
		t.Fatal(err)
	}
	c := newStringClient(conn, relay)

	svids := watchSVIDs(t, userSrc, seen)
	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	time.AfterFunc(duration/3, func() {
		if err := env.Issuer.RotateCA(); err != nil {
			t.Errorf("rotate CA: %v", err)
		}
	})
	var ok, failed, newConns atomic.Int64
	var firstErr atomic.Value
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			newConns.Add(1)
		}
	}}
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	jobs := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				callCtx, stop := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), 5*time.Second)
				_, err := c.CallUnary(callCtx, connect.NewRequest(wrapperspb.String("ping")))
				stop()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		})
	}
	start := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			select {
			case jobs <- struct{}{}:
			default: // all workers busy: the offered rate is not met, which the count below shows
			}
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	roots := env.Issuer.Bundle().X509Authorities()

	rotations, pickup := svids.report()
	t.Logf("requests: %d ok, %d failed in %s (%.0f/s); new client connections: %d; SVID rotations seen by the client: %d; roots in bundle at end: %d",
		ok.Load(), failed.Load(), elapsed.Round(time.Millisecond), float64(ok.Load())/elapsed.Seconds(), newConns.Load(), rotations, len(roots))
	t.Logf("rotated SVID: issuer push → first handshake using it at the server: %s", pickup)
	if f := failed.Load(); f != 0 {
		t.Errorf("%d failed requests, first: %v", f, firstErr.Load())
	}
	// The offered rate (200/s) is reported above, not asserted (rates are the benchmarks' to
	// judge); the scenario must still have carried real load across the rotations.
	if ok.Load() < 1000 {
		t.Errorf("%d requests succeeded, want ≥ 1,000 across the rotations", ok.Load())
	}
	if rotations < 5 {
		t.Errorf("%d SVID rotations, want ≥ 5", rotations)
	}
	if newConns.Load() < 3 {
		t.Errorf("%d client connections: connections were not retired as SVIDs rotated", newConns.Load())
	}
	if !seen.sawRootChange() {
		t.Error("no handshake used an SVID signed by the rotated CA")
	}
}

// handshakeLog records when each client certificate serial was first seen by a server.
type handshakeLog struct {
	mu    sync.Mutex
	first map[string]time.Time
	roots map[string]bool // issuers (CA subject key IDs) of client certificates seen
}

func newHandshakeLog() *handshakeLog {
	return &handshakeLog{first: map[string]time.Time{}, roots: map[string]bool{}}
}

func (l *handshakeLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			leaf := r.TLS.PeerCertificates[0]
			l.mu.Lock()
			if _, ok := l.first[leaf.SerialNumber.String()]; !ok {
				l.first[leaf.SerialNumber.String()] = time.Now()
			}
			l.roots[string(leaf.AuthorityKeyId)] = true
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *handshakeLog) firstSeen(serial string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.first[serial]
	return at, ok
}

func (l *handshakeLog) sawRootChange() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.roots) > 1
}

// svidWatch records when the load generator's source received each new SVID.
type svidWatch struct {
	log      *handshakeLog
	mu       sync.Mutex
	received map[string]time.Time
}

func watchSVIDs(t *testing.T, src *workloadapi.X509Source, log *handshakeLog) *svidWatch {
	w := &svidWatch{log: log, received: map[string]time.Time{}}
	record := func() {
		if svid, err := src.GetX509SVID(); err == nil {
			w.mu.Lock()
			if _, ok := w.received[serial(svid.Certificates[0])]; !ok {
				w.received[serial(svid.Certificates[0])] = time.Now()
			}
			w.mu.Unlock()
		}
	}
	record()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			if err := src.WaitUntilUpdated(ctx); err != nil {
				return
			}
			record()
		}
	}()
	return w
}

func serial(c *x509.Certificate) string { return c.SerialNumber.String() }

// report returns how many new SVIDs arrived after the first, and the median delay from arrival
// to the first server handshake that presented it.
func (w *svidWatch) report() (int, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var delays []time.Duration
	for s, at := range w.received {
		if used, ok := w.log.firstSeen(s); ok && used.After(at) {
			delays = append(delays, used.Sub(at))
		}
	}
	return len(w.received) - 1, median(delays)
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	for i := range d { // insertion sort: a few dozen values
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
	return d[len(d)/2]
}
