package outbox_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"mercato.dev/ent/dbtest"
	"mercato.dev/services/kit/outbox"
)

// A row written by the Inserter is the row ent writes for the same event, column for column,
// and the relay claims it as it claims ent's.
func TestInserterWritesWhatEntWrites(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		ctx := context.Background()
		ins, err := outbox.NewInserter(f.db.Dialect(), "outbox_events")
		if err != nil {
			t.Fatal(err)
		}
		evs := testEvents(2, "mercato.orders.v1.confirmed", time.Now().Add(-time.Minute))
		f.insert(t, evs[0]) // by ent
		tx, err := f.client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ins.Insert(ctx, tx, evs[1]); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		byEnt, byHand := f.row(t, evs[0].ID), f.row(t, evs[1].ID)
		if byHand.Subject != evs[1].Subject || string(byHand.Payload) != string(evs[1].Payload) ||
			!maps.Equal(byHand.Headers, evs[1].Headers) || !sameTime(byHand.CreateTime, evs[1].CreateTime) {
			t.Errorf("row by hand %+v, want the event %+v", byHand, evs[1])
		}
		if byHand.Status != byEnt.Status || byHand.Attempts != byEnt.Attempts || byHand.ClaimedBy != byEnt.ClaimedBy ||
			(byHand.ClaimedUntil == nil) != (byEnt.ClaimedUntil == nil) || (byHand.SentTime == nil) != (byEnt.SentTime == nil) {
			t.Errorf("row by hand %+v\nrow by ent  %+v", byHand, byEnt)
		}
		got, err := f.store.Claim(ctx, "relay", 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), ids(evs)) || !maps.Equal(got[1].Headers, evs[1].Headers) || string(got[1].Payload) != string(evs[1].Payload) {
			t.Errorf("claimed %+v, want both events as written", got)
		}
		if err := ins.Insert(ctx, f.db.SQL(), outbox.Event{ID: "not-a-uuid"}); err == nil {
			t.Error("an event ID that is not a UUID was written")
		}
	})
}
