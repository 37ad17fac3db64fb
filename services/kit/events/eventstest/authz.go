package eventstest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/outbox"
)

// CheckBusAuthz attacks the broker at url (the platform's broker: the in-process one, the
// broker binary, or the one `mercato up` runs) as the issue of the bus's trust model asks, as a
// set of subtests: a client without TLS, without a certificate, or with an SVID of another
// trust domain cannot connect; no TLS session is resumed; identities outside the table (xds, ops/cli, an unknown service)
// cannot connect; payments and notifications cannot publish order events and payments cannot read
// the ORDERS stream; orders publishes its own events. env must be the issuer the broker trusts;
// the test executable is granted the identities it plays (never the edge's). It leaves one
// valid OrderConfirmed, of a random customer, on the ORDERS stream: run it on a broker of the
// test's own.
func CheckBusAuthz(t *testing.T, env *kittest.Env, url string) {
	t.Helper()
	svc := identity.Service
	stranger := identity.Service("stranger") // of the trust domain, in no table
	env.Grant(svc("orders"), svc("payments"), svc("notifications"), identity.XDS, identity.OpsCLI, stranger)
	t.Run("plaintext", func(t *testing.T) { plaintext(t, strings.TrimPrefix(url, "tls://")) })
	t.Run("no-certificate", func(t *testing.T) {
		nc, err := nats.Connect(url, nats.Secure(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}), nats.Timeout(5*time.Second)) //nolint:gosec // the attacker does not care who the broker is
		refused(t, nc, err, "")
	})
	t.Run("foreign-trust-domain", func(t *testing.T) {
		foreign := spiffeid.RequireFromPath(spiffeid.RequireTrustDomainFromString("evil.example"), "/svc/orders")
		fenv := kittest.Start(t, []spiffeid.ID{foreign}, kittest.WithTrustDomain(foreign.TrustDomain()))
		src := fenv.Source(t, foreign)
		// The attacker skips checking the broker; the broker must still refuse the certificate.
		cfg := tlsconfig.MTLSClientConfig(src, src, tlsconfig.AuthorizeAny())
		cfg.VerifyPeerCertificate = nil
		cfg.InsecureSkipVerify = true //nolint:gosec // see above
		nc, err := nats.Connect(url, nats.Secure(cfg), nats.Timeout(5*time.Second))
		refused(t, nc, err, "")
	})
	t.Run("no-session-resumption", func(t *testing.T) {
		// A client that keeps a session cache offers to resume: the broker issues no tickets,
		// so every connection is a full handshake with the peer check (Go skips it on resumption).
		cfg := identity.ClientTLS(env.Source(t, svc("orders")), identity.Broker)
		cfg.NextProtos = nil
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
		for i := range 2 {
			nc, err := nats.Connect(url, nats.Secure(cfg), nats.CustomInboxPrefix("_INBOX_svc_orders"), nats.Timeout(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil { // the session ticket, if any, arrives after the handshake
				t.Fatal(err)
			}
			cs, err := nc.TLSConnectionState()
			nc.Close()
			if err != nil || cs.DidResume {
				t.Fatalf("connection %d: resumed %v (%v)", i+1, cs.DidResume, err)
			}
		}
	})
	for _, id := range []spiffeid.ID{identity.XDS, identity.OpsCLI, stranger} {
		t.Run("not-in-table"+strings.ReplaceAll(id.Path(), "/", "-"), func(t *testing.T) {
			nc, err := nats.Connect(url, nats.Secure(identity.ClientTLS(env.Source(t, id), identity.Broker)), nats.Timeout(5*time.Second))
			refused(t, nc, err, "authorization violation")
		})
	}
	orders := connectAs(t, env, url, svc("orders"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, orders, events.StreamsOf(svc("orders"))...); err != nil {
		t.Fatalf("orders ensures its streams: %v", err)
	}
	before := streamMsgs(ctx, t, orders, "ORDERS")
	for _, id := range []spiffeid.ID{svc("payments"), svc("notifications")} {
		t.Run("forged-order-event-from"+strings.ReplaceAll(id.Path(), "/", "-"), func(t *testing.T) {
			js := connectAs(t, env, url, id)
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			_, err := js.Publish(pctx, events.OrderRejected, []byte("your card was blocked, re-enter it at https://evil.example"),
				jetstream.WithMsgID("forged-"+id.Path()))
			if err == nil {
				t.Fatalf("%s published an OrderRejected", id)
			}
			last := js.Conn().LastError()
			if last == nil || !strings.Contains(strings.ToLower(last.Error()), "permissions violation") {
				t.Fatalf("%s publishing %s: %v, last error %v: want a permissions violation", id, events.OrderRejected, err, last)
			}
			t.Logf("%s publishing %s: %v (%v)", id, events.OrderRejected, err, last)
		})
	}
	t.Run("payments-reads-orders", func(t *testing.T) {
		js := connectAs(t, env, url, svc("payments"))
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := js.CreateOrUpdateConsumer(cctx, "ORDERS", jetstream.ConsumerConfig{Durable: "payments-spy"}); err == nil {
			t.Fatal("payments created a consumer on ORDERS")
		}
		if _, err := js.Stream(cctx, "ORDERS"); err == nil {
			t.Fatal("payments read the ORDERS stream's info")
		}
		nc := js.Conn()
		if sub, err := nc.SubscribeSync(">"); err == nil {
			_ = nc.Flush()
			if _, err := sub.NextMsg(500 * time.Millisecond); !errors.Is(err, nats.ErrPermissionViolation) && !errors.Is(err, nats.ErrTimeout) {
				t.Fatalf("payments subscribed to >: %v", err)
			}
			if err := nc.LastError(); err == nil || !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
				t.Fatalf("subscribing to > as payments: last error %v, want a permissions violation", err)
			}
		}
	})
	t.Run("orders-publishes-its-own", func(t *testing.T) {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ev, err := outbox.New(pctx, events.OrderConfirmed, &ordersv1.OrderConfirmed{
			OrderId: uuid.NewString(), CustomerId: uuid.NewString(), PaymentId: uuid.NewString(),
			Items: []*ordersv1.OrderItem{{ProductId: uuid.NewString(), Quantity: 1}}, Total: &moneyv1.Money{AmountMinor: 100, Currency: "EUR"},
		})
		if err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(ev.Subject)
		msg.Data = ev.Payload
		for k, v := range ev.Headers {
			msg.Header.Set(k, v)
		}
		ack, err := orders.PublishMsg(pctx, msg, jetstream.WithMsgID(ev.ID))
		if err != nil || ack.Stream != "ORDERS" {
			t.Fatalf("orders publishing its own event: %v, %+v", err, ack)
		}
	})
	if after := streamMsgs(ctx, t, orders, "ORDERS"); after != before+1 {
		t.Errorf("ORDERS went from %d to %d messages: want only orders' own event stored", before, after)
	}
}

// plaintext speaks the NATS protocol without TLS, as an anonymous client would: the broker
// must close the connection without answering the PING or storing anything.
func plaintext(t *testing.T, addr string) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("INFO %q (%v): want tls_required", info, err)
	}
	_, _ = conn.Write([]byte("CONNECT {\"verbose\":false,\"tls_required\":false}\r\nPUB " + events.OrderRejected + " 6\r\nforged\r\nPING\r\n"))
	rest, err := io.ReadAll(r)
	if strings.Contains(string(rest), "PONG") {
		t.Fatalf("the broker answered a plaintext client: %q", rest)
	}
	t.Logf("plaintext client: %q, then %v", strings.TrimSpace(string(rest)), err)
}

// connectAs connects to url as id with events.Connect and waits for the connection.
func connectAs(t *testing.T, env *kittest.Env, url string, id spiffeid.ID) jetstream.JetStream {
	t.Helper()
	nc, _, err := events.Connect(url, t.Name(), env.Source(t, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, js := wrap(t, nc, url)
	return js
}

// streamMsgs is the message count of a stream, read with orders' rights (STREAM.INFO).
func streamMsgs(ctx context.Context, t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// refused fails t unless the connection attempt failed (with want in its error, when given).
func refused(t *testing.T, nc *nats.Conn, err error, want string) {
	t.Helper()
	if err == nil {
		nc.Close()
		t.Fatal("connected")
	}
	if want != "" && !strings.Contains(strings.ToLower(err.Error()), want) {
		t.Fatalf("refused with %q, want an error mentioning %q", err, want)
	}
	t.Logf("refused: %v", err)
}
