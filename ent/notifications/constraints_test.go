package notifications_test

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/notifications"
	"mercato.dev/ent/notifications/migrate"
	"mercato.dev/ent/notifications/notification"
)

func TestNotificationConstraints(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := dbtest.Open(t, url, migrate.Migrations)
		c := notifications.NewClient(notifications.Driver(db.Driver()))
		event := uuid.New()
		create := func() *notifications.NotificationCreate {
			return c.Notification.Create().SetEventID(event).SetCustomerID(uuid.New()).
				SetOrderID(uuid.New()).SetKind("order_confirmed").SetSubject("Confirmed").SetBody("…")
		}
		if err := create().Exec(ctx); err != nil {
			t.Fatal(err)
		}

		t.Run("event recorded once", func(t *testing.T) {
			if err := create().Exec(ctx); !notifications.IsConstraintError(err) {
				t.Errorf("redelivered event: got %v, want a constraint error", err)
			}
		})
		t.Run("redelivery as a no-op upsert", func(t *testing.T) {
			if err := create().OnConflictColumns(notification.FieldEventID).DoNothing().Exec(ctx); err != nil &&
				!errors.Is(err, sql.ErrNoRows) {
				t.Fatal(err)
			}
			if n := c.Notification.Query().CountX(ctx); n != 1 {
				t.Errorf("%d notifications after a redelivery, want 1", n)
			}
		})
	})
}
