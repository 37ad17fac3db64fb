package events

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"mercato.dev/services/kit/busauthz"
	"mercato.dev/services/kit/config"
	"mercato.dev/services/kit/identity"
)

// DefaultURL is the local platform's broker (ARCHITECTURE "Local defaults"); services take
// NATS_URL instead when it is set (config.Service.NATSURL).
const DefaultURL = config.DefaultNATSURL

// Connect connects to the broker at url ("tls://host:port") as name, with the SVID of src,
// and returns the connection and its JetStream context. The broker must present the broker's
// SVID (identity.Broker); every handshake reads src's current SVID and trust bundle, and
// replies come to the identity's own inbox prefix (busauthz.InboxPrefix), the only subjects
// the broker lets it subscribe to.
//
// The connection outlives broker outages: it keeps reconnecting forever, starts even while
// the broker is down, and does not buffer publishes while disconnected, so a publish during
// an outage fails at once (the outbox keeps the event) rather than waiting in a client buffer.
// Before either SVID it was made with expires (between 80% and 90% of the time left), the
// connection is retired: flushed, closed and made again with the current SVID. A publish in
// flight then fails or goes unacknowledged and the outbox publishes it again (deduplicated by
// its Nats-Msg-Id); a delivery in flight is redelivered to the durable consumer. Close nc at
// exit (after draining consumers).
func Connect(url, name string, src identity.Source, logger *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if src == nil {
		return nil, nil, errors.New("events: connect: no SVID source (the broker accepts mTLS only)")
	}
	svid, err := src.GetX509SVID()
	if err != nil {
		return nil, nil, fmt.Errorf("events: connect: %w", err)
	}
	logger = logger.With("nats", url)
	r := &retirer{log: logger}
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.Secure(r.tlsConfig(src)),
		nats.CustomInboxPrefix(busauthz.InboxPrefix(svid.ID)),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.ReconnectBufSize(-1),
		nats.Timeout(5*time.Second),
		nats.ConnectHandler(func(nc *nats.Conn) {
			logger.Info("nats connected")
			r.schedule(nc)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "error", err.Error())
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected")
			r.schedule(nc)
		}),
		nats.ClosedHandler(func(*nats.Conn) { r.stop() }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			logger.Warn("nats error", "error", err.Error())
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("events: connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("events: jetstream: %w", err)
	}
	return nc, js, nil
}

// retirer closes a connection before the SVIDs it was made with expire, so that it is made
// again with current ones.
type retirer struct {
	log *slog.Logger

	mu        sync.Mutex
	presented time.Time // NotAfter of the client SVID of the last handshake
	timer     *time.Timer
	closed    bool
}

// tlsConfig is the kit's client mTLS configuration for the broker, recording the SVID each
// handshake presents.
func (r *retirer) tlsConfig(src identity.Source) *tls.Config {
	cfg := identity.ClientTLS(identity.Fresh(src), identity.Broker)
	cfg.NextProtos = nil
	get := cfg.GetClientCertificate
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		cert, err := get(cri)
		if err == nil && len(cert.Certificate) > 0 {
			if leaf, perr := x509.ParseCertificate(cert.Certificate[0]); perr == nil {
				r.mu.Lock()
				r.presented = leaf.NotAfter
				r.mu.Unlock()
			}
		}
		return cert, err
	}
	return cfg
}

// schedule arms the retirement of the connection nc has just made.
func (r *retirer) schedule(nc *nats.Conn) {
	expiry := time.Now().Add(24 * time.Hour)
	if cs, err := nc.TLSConnectionState(); err == nil && len(cs.PeerCertificates) > 0 {
		expiry = minTime(expiry, cs.PeerCertificates[0].NotAfter)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if !r.presented.IsZero() {
		expiry = minTime(expiry, r.presented)
	}
	left := time.Until(expiry)
	after := time.Duration(float64(left) * (0.8 + 0.1*rand.Float64()))
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timer = time.AfterFunc(after, func() {
		r.log.Info("nats connection retired before its SVIDs expire; reconnecting with the current SVID",
			"svid_expiry", expiry.Format(time.RFC3339))
		if err := nc.ForceReconnect(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			r.log.Warn("nats reconnect failed", "error", err.Error())
		}
	})
}

func (r *retirer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Ready is a readiness check: the connection is up.
func Ready(nc *nats.Conn) func(context.Context) error {
	return func(context.Context) error {
		if !nc.IsConnected() {
			return errors.New("nats: " + nc.Status().String())
		}
		return nil
	}
}
