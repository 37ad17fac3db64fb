package main

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/notifications/migrate"
	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
	"mercato.dev/proto/gen/go/mercato/notifications/v1/notificationsv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"

	"mercato.dev/services/notifications/internal/notification"
	"mercato.dev/services/notifications/internal/store"
)

// TestBinaryServesRecordedNotifications runs the real binary on a database where notifications
// were recorded (as the event consumer will) and reads them as the edge, over gRPC and Connect.
func TestBinaryServesRecordedNotifications(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := dbtest.Open(t, url, migrate.Migrations)
		svc := notification.NewService(store.New(db), nil)
		customer := uuid.New()
		var events []uuid.UUID
		for range 3 {
			n := notification.Notification{EventID: uuid.New(), CustomerID: customer, OrderID: uuid.New(),
				Kind: notification.KindOrderConfirmed, Subject: "Your order is confirmed", Body: "Thanks."}
			if _, err := svc.Record(ctx, n); err != nil {
				t.Fatal(err)
			}
			events = append([]uuid.UUID{n.EventID}, events...) // newest first
		}

		// The binary opens the database next; the test lets it go first (a SQLite database is
		// held by one process at a time).
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		env := kittest.Start(t, []spiffeid.ID{identity.Edge, identity.Service("orders")})
		bin := kittest.Build(t, "mercato.dev/services/notifications/cmd/notifications")
		p := env.StartService(t, "notifications", bin, map[string]string{
			"NOTIFICATIONS_DATABASE_URL": url, "NATS_URL": eventstest.StartBroker(t, env, "", 0).URL(),
		})

		userCtx, info := connect.NewClientContext(ctx)
		info.RequestHeader().Set(claims.Header, claims.Encode(claims.Claims{Subject: customer.String(), Roles: []string{"customer"}}))
		for name, opts := range map[string][]connect.ClientOption{"grpc": {connect.WithGRPC()}, "connect json": {connect.WithProtoJSON()}} {
			c := notificationsv1connect.NewNotificationServiceClient(env.HTTPClient(t, identity.Edge, identity.Service("notifications")), "https://"+p.Addr, opts...)
			var got []string
			token := ""
			for {
				res, err := c.ListNotifications(userCtx, &notificationsv1.ListNotificationsRequest{CustomerId: customer.String(), PageSize: 2, PageToken: token})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, n := range res.GetNotifications() {
					got = append(got, n.GetEventId())
				}
				if token = res.GetNextPageToken(); token == "" {
					break
				}
			}
			if len(got) != 3 || got[0] != events[0].String() || got[2] != events[2].String() {
				t.Errorf("%s: events %v, want %v", name, got, events)
			}
		}

		orders := notificationsv1connect.NewNotificationServiceClient(env.HTTPClient(t, identity.Service("orders"), identity.Service("notifications")), "https://"+p.Addr)
		_, err := orders.ListNotifications(userCtx, &notificationsv1.ListNotificationsRequest{CustomerId: customer.String()})
		if connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("orders: %v, want permission_denied", err)
		}
	})
}
