package store_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	ent "mercato.dev/ent/inventory"
	"mercato.dev/ent/inventory/migrate"
	"mercato.dev/ent/inventory/product"
	"mercato.dev/ent/inventory/reservation"
	"mercato.dev/ent/inventory/stockadjustment"
	"mercato.dev/services/inventory/internal/stock"
	"mercato.dev/services/inventory/internal/store"
)

// fixture is the use cases on a real store, and the ent client to look at the rows.
type fixture struct {
	inv    *stock.Inventory
	client *ent.Client
}

func newFixture(t testing.TB, url string) fixture {
	t.Helper()
	db := dbtest.Open(t, url, migrate.Migrations)
	drv := db.Driver()
	client := ent.NewClient(ent.Driver(drv))
	return fixture{inv: stock.New(store.New(client, store.WithDriver(drv))), client: client}
}

func (f fixture) product(t testing.TB, sku string, available int64) stock.Product {
	t.Helper()
	p, err := f.inv.CreateProduct(t.Context(), stock.NewProduct{
		SKU: sku, Name: "Widget " + sku, Price: stock.Money{AmountMinor: 1999, Currency: "EUR"}, InitialStock: available,
	})
	if err != nil {
		t.Fatalf("create %s: %v", sku, err)
	}
	return p
}

func (f fixture) available(t testing.TB, id uuid.UUID) int64 {
	t.Helper()
	p, err := f.inv.Product(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Available
}

func (f fixture) reservationRows(t testing.TB, order uuid.UUID) int {
	t.Helper()
	return f.client.Reservation.Query().Where(reservation.OrderID(order)).CountX(t.Context())
}

// warm opens n pooled connections, so that n calls started together overlap in the database
// rather than queue behind connection set-up.
func (f fixture) warm(t testing.TB, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _ = f.client.Product.Query().Where(product.ID(uuid.New())).ExistX(t.Context()) })
	}
	wg.Wait()
}

func items(kv ...any) []stock.Item {
	var out []stock.Item
	for i := 0; i < len(kv); i += 2 {
		out = append(out, stock.Item{ProductID: kv[i].(uuid.UUID), Quantity: int64(kv[i+1].(int))})
	}
	return out
}

func TestReserveIsIdempotentAndReleaseGivesBackOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		a, b := f.product(t, "SKU-A", 10), f.product(t, "SKU-B", 5)
		order := uuid.New()
		want := items(a.ID, 3, b.ID, 2)

		first, err := f.inv.Reserve(t.Context(), order, want)
		if err != nil {
			t.Fatal(err)
		}
		again, err := f.inv.Reserve(t.Context(), order, []stock.Item{want[1], want[0]}) // any order
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if first.State != stock.Reserved || !again.Holds(want) || !again.CreateTime.Equal(first.CreateTime) {
			t.Errorf("retry returned %+v, want the first reservation %+v", again, first)
		}
		if got := [2]int64{f.available(t, a.ID), f.available(t, b.ID)}; got != [2]int64{7, 3} {
			t.Errorf("available after a retried reservation = %v, want [7 3]", got)
		}

		for range 2 {
			r, err := f.inv.Release(t.Context(), order)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != stock.Released || !r.Holds(want) {
				t.Errorf("release returned %+v", r)
			}
		}
		if got := [2]int64{f.available(t, a.ID), f.available(t, b.ID)}; got != [2]int64{10, 5} {
			t.Errorf("available after two releases = %v, want [10 5]", got)
		}

		_, err = f.inv.Reserve(t.Context(), order, want)
		if !errors.Is(err, stock.ErrReleased) {
			t.Errorf("reserve after release: %v, want ErrReleased", err)
		}
		if got := f.available(t, a.ID); got != 10 {
			t.Errorf("a refused re-reservation moved stock: available %d", got)
		}
	})
}

func TestReserveOtherItemsForAnOrderIsRefused(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		a := f.product(t, "SKU-A", 10)
		order := uuid.New()
		if _, err := f.inv.Reserve(t.Context(), order, items(a.ID, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.inv.Reserve(t.Context(), order, items(a.ID, 2)); !errors.Is(err, stock.ErrOtherItems) {
			t.Errorf("reserve other quantity: %v, want ErrOtherItems", err)
		}
		if got := f.available(t, a.ID); got != 9 {
			t.Errorf("available %d, want 9", got)
		}
	})
}

func TestReserveIsAllOrNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		plenty, short1, short2 := f.product(t, "SKU-PLENTY", 100), f.product(t, "SKU-S1", 2), f.product(t, "SKU-S2", 0)
		order := uuid.New()

		_, err := f.inv.Reserve(t.Context(), order, items(plenty.ID, 5, short1.ID, 3, short2.ID, 1))
		var se *stock.ShortageError
		if !errors.As(err, &se) {
			t.Fatalf("got %v, want a ShortageError", err)
		}
		got := map[uuid.UUID]stock.Shortage{}
		for _, s := range se.Shortages {
			got[s.ProductID] = s
		}
		want := map[uuid.UUID]stock.Shortage{
			short1.ID: {ProductID: short1.ID, Requested: 3, Available: 2},
			short2.ID: {ProductID: short2.ID, Requested: 1, Available: 0},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("shortages %v, want %v (one per short product)", got, want)
		}
		if n := f.available(t, plenty.ID); n != 100 {
			t.Errorf("the product with stock lost units on a refused reservation: %d", n)
		}
		if n := f.reservationRows(t, order); n != 0 {
			t.Errorf("%d reservation rows left by a refused reservation", n)
		}
		// Refused is not reserved: the same order may try again once stock arrived.
		if _, err := f.inv.AdjustStock(t.Context(), stock.Adjustment{ProductID: short1.ID, Delta: 1, Reason: "delivery"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.inv.AdjustStock(t.Context(), stock.Adjustment{ProductID: short2.ID, Delta: 1, Reason: "delivery"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.inv.Reserve(t.Context(), order, items(plenty.ID, 5, short1.ID, 3, short2.ID, 1)); err != nil {
			t.Fatalf("after the delivery: %v", err)
		}
	})
}

func TestReserveUnknownProductChangesNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		a := f.product(t, "SKU-A", 10)
		order := uuid.New()
		_, err := f.inv.Reserve(t.Context(), order, items(a.ID, 1, uuid.New(), 1))
		if !errors.Is(err, stock.ErrProductNotFound) {
			t.Fatalf("got %v, want ErrProductNotFound", err)
		}
		if f.available(t, a.ID) != 10 || f.reservationRows(t, order) != 0 {
			t.Error("a refused reservation changed something")
		}
	})
}

func TestReleaseUnknownOrderIsANoOp(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		order := uuid.New()
		r, err := f.inv.Release(t.Context(), order)
		if err != nil {
			t.Fatal(err)
		}
		if r.OrderID != order || r.State != stock.Released || len(r.Items) != 0 {
			t.Errorf("release of an unknown order = %+v", r)
		}
	})
}

// TestConcurrentReservationsNeverOversell races 100 orders of one unit for 30 units.
func TestConcurrentReservationsNeverOversell(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		const units, buyers = 30, 100
		f := newFixture(t, url)
		p := f.product(t, "SKU-HOT", units)
		var (
			wg             sync.WaitGroup
			reserved, shor atomic.Int64
		)
		errs := make(chan error, buyers)
		for range buyers {
			wg.Go(func() {
				_, err := f.inv.Reserve(t.Context(), uuid.New(), items(p.ID, 1))
				var se *stock.ShortageError
				switch {
				case err == nil:
					reserved.Add(1)
				case errors.As(err, &se):
					shor.Add(1)
				default:
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("reserve: %v", err)
		}
		if reserved.Load() != units || shor.Load() != buyers-units {
			t.Errorf("%d reserved and %d short, want %d and %d", reserved.Load(), shor.Load(), units, buyers-units)
		}
		if got := f.available(t, p.ID); got != 0 {
			t.Errorf("available %d, want 0", got)
		}
		if n := f.client.Reservation.Query().CountX(t.Context()); n != units {
			t.Errorf("%d reservation rows, want %d", n, units)
		}
	})
}

// TestConcurrentDuplicateReservationsReserveOnce sends the same reservation 20 times at once.
func TestConcurrentDuplicateReservationsReserveOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		const calls = 20
		f := newFixture(t, url)
		a, b := f.product(t, "SKU-A", 10), f.product(t, "SKU-B", 10)
		order := uuid.New()
		want := items(a.ID, 2, b.ID, 3)
		f.warm(t, calls)
		start := make(chan struct{}) // released once every caller is waiting
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for range calls {
			wg.Go(func() {
				<-start
				r, err := f.inv.Reserve(t.Context(), order, want)
				if err == nil && !r.Holds(want) {
					err = fmt.Errorf("got reservation %+v", r)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("duplicate reserve: %v", err)
		}
		if got := [2]int64{f.available(t, a.ID), f.available(t, b.ID)}; got != [2]int64{8, 7} {
			t.Errorf("available %v, want [8 7]: stock reserved more than once", got)
		}
		if n := f.reservationRows(t, order); n != 2 {
			t.Errorf("%d reservation rows, want 2", n)
		}
	})
}

// TestConcurrentReleasesGiveBackOnce releases one order 20 times at once.
func TestConcurrentReleasesGiveBackOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		const calls = 20
		f := newFixture(t, url)
		a, b := f.product(t, "SKU-A", 10), f.product(t, "SKU-B", 10)
		order := uuid.New()
		if _, err := f.inv.Reserve(t.Context(), order, items(a.ID, 4, b.ID, 1)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for range calls {
			wg.Go(func() {
				if _, err := f.inv.Release(t.Context(), order); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("release: %v", err)
		}
		if got := [2]int64{f.available(t, a.ID), f.available(t, b.ID)}; got != [2]int64{10, 10} {
			t.Errorf("available %v after concurrent releases, want [10 10]", got)
		}
	})
}

func TestAdjustStock(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		p := f.product(t, "SKU-A", 5)
		got, err := f.inv.AdjustStock(t.Context(), stock.Adjustment{ProductID: p.ID, Delta: -5, Reason: "count"})
		if err != nil || got.Available != 0 {
			t.Fatalf("remove all: %+v, %v", got, err)
		}
		_, err = f.inv.AdjustStock(t.Context(), stock.Adjustment{ProductID: p.ID, Delta: -1, Reason: "count"})
		var se *stock.ShortageError
		if !errors.As(err, &se) || len(se.Shortages) != 1 || se.Shortages[0] != (stock.Shortage{ProductID: p.ID, Requested: 1, Available: 0}) {
			t.Fatalf("remove below zero: %v, want one shortage of 1 with 0 available", err)
		}
		_, err = f.inv.AdjustStock(t.Context(), stock.Adjustment{ProductID: uuid.New(), Delta: 1, Reason: "x"})
		if !errors.Is(err, stock.ErrProductNotFound) {
			t.Errorf("unknown product: %v", err)
		}
		deltas := f.client.StockAdjustment.Query().Where(stockadjustment.ProductID(p.ID)).
			Order(stockadjustment.ByCreateTime()).Select(stockadjustment.FieldDelta).IntsX(t.Context())
		if fmt.Sprint(deltas) != "[5 -5]" {
			t.Errorf("recorded adjustments %v, want the initial stock and the removal [5 -5]", deltas)
		}
	})
}

func TestProducts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		p := f.product(t, "SKU-A", 1)
		if read, err := f.inv.Product(t.Context(), p.ID); err != nil || read != p {
			t.Errorf("read back %+v, %v; want what create answered, %+v", read, err, p)
		}
		_, err := f.inv.CreateProduct(t.Context(), stock.NewProduct{SKU: "SKU-A", Name: "Dup", Price: stock.Money{Currency: "EUR"}})
		if !errors.Is(err, stock.ErrSKUTaken) {
			t.Errorf("duplicate SKU: %v, want ErrSKUTaken", err)
		}
		name := "Renamed"
		got, err := f.inv.UpdateProduct(t.Context(), p.ID, stock.ProductChange{Name: &name})
		if err != nil || got.Name != "Renamed" || got.Description != p.Description || got.Price != p.Price || got.Available != 1 {
			t.Errorf("update name only: %+v, %v", got, err)
		}
		price := stock.Money{AmountMinor: 5, Currency: "USD"}
		got, err = f.inv.UpdateProduct(t.Context(), p.ID, stock.ProductChange{Price: &price})
		if err != nil || got.Name != "Renamed" || got.Price != price {
			t.Errorf("update price only: %+v, %v", got, err)
		}
		if _, err := f.inv.UpdateProduct(t.Context(), uuid.New(), stock.ProductChange{Name: &name}); !errors.Is(err, stock.ErrProductNotFound) {
			t.Errorf("update unknown: %v", err)
		}
		if _, err := f.inv.Product(t.Context(), uuid.New()); !errors.Is(err, stock.ErrProductNotFound) {
			t.Errorf("get unknown: %v", err)
		}
	})
}

func TestListProductsPagesBySKU(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		for i := range 45 {
			f.product(t, fmt.Sprintf("SKU-%03d", (i*7)%45), 1) // created out of order
		}
		var seen []string
		after, pages := "", 0
		for {
			page, more, err := f.inv.ListProducts(t.Context(), after, 0)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page) > stock.DefaultPageSize {
				t.Fatalf("page of %d", len(page))
			}
			for _, p := range page {
				seen = append(seen, p.SKU)
			}
			if !more {
				break
			}
			after = page[len(page)-1].SKU
		}
		if pages != 3 || len(seen) != 45 || seen[0] != "SKU-000" || seen[44] != "SKU-044" {
			t.Fatalf("%d pages, %d products from %s to %s", pages, len(seen), seen[0], seen[len(seen)-1])
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Fatalf("out of order or repeated: %s after %s", seen[i], seen[i-1])
			}
		}
	})
}

// TestReserveAfterReleaseHoldsNothing: a compensating ReleaseStock can reach inventory before
// the ReserveStock it compensates (the reserve timed out at the caller but was still on its
// way). That late reservation must be refused, not hold stock for an order that is over.
func TestReserveAfterReleaseHoldsNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		a := f.product(t, "SKU-A", 10)
		order := uuid.New()
		if _, err := f.inv.Release(t.Context(), order); err != nil {
			t.Fatal(err)
		}
		_, err := f.inv.Reserve(t.Context(), order, items(a.ID, 3))
		if !errors.Is(err, stock.ErrReleased) {
			t.Fatalf("late reserve: %v, want ErrReleased", err)
		}
		if got := f.available(t, a.ID); got != 10 || f.reservationRows(t, order) != 0 {
			t.Errorf("available %d, %d reservation rows after a refused late reserve", got, f.reservationRows(t, order))
		}
	})
}

// TestRacingReserveAndReleaseNeverLeakStock: a reserve and a release of the same order, started
// together many times, may land in either order; whichever it is, no stock stays held.
func TestRacingReserveAndReleaseNeverLeakStock(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		const rounds = 40
		f := newFixture(t, url)
		a := f.product(t, "SKU-A", 100)
		f.warm(t, 4)
		var reservedFirst, releasedFirst int
		for range rounds {
			order := uuid.New()
			var wg sync.WaitGroup
			var reserveErr, releaseErr error
			wg.Go(func() { _, reserveErr = f.inv.Reserve(t.Context(), order, items(a.ID, 1)) })
			wg.Go(func() { _, releaseErr = f.inv.Release(t.Context(), order) })
			wg.Wait()
			switch {
			case releaseErr != nil:
				t.Fatalf("release: %v", releaseErr)
			case reserveErr == nil:
				reservedFirst++
			case errors.Is(reserveErr, stock.ErrReleased):
				releasedFirst++
			default:
				t.Fatalf("reserve: %v", reserveErr)
			}
		}
		if got := f.available(t, a.ID); got != 100 {
			t.Fatalf("available %d after %d reserve/release races, want 100: stock leaked", got, rounds)
		}
		t.Logf("%d races: reserve landed first %d times, release first %d times; no stock held", rounds, reservedFirst, releasedFirst)
	})
}

// TestReservePricesEachItemAndARetryKeepsThem: the reservation carries each product's unit
// price as read when it was made; a retry after the price changed answers the stored prices,
// and so does a release.
func TestReservePricesEachItemAndARetryKeepsThem(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		a, b := f.product(t, "SKU-A", 10), f.product(t, "SKU-B", 5)
		usd := stock.Money{AmountMinor: 250, Currency: "USD"}
		if _, err := f.inv.UpdateProduct(t.Context(), b.ID, stock.ProductChange{Price: &usd}); err != nil {
			t.Fatal(err)
		}
		order := uuid.New()
		want := map[uuid.UUID]stock.Money{a.ID: {AmountMinor: 1999, Currency: "EUR"}, b.ID: usd}
		prices := func(what string, r stock.Reservation) {
			t.Helper()
			if len(r.Items) != 2 {
				t.Fatalf("%s: %d items, want 2", what, len(r.Items))
			}
			for _, it := range r.Items {
				if it.UnitPrice != want[it.ProductID] {
					t.Errorf("%s: product %s at %+v, want %+v", what, it.ProductID, it.UnitPrice, want[it.ProductID])
				}
			}
		}
		first, err := f.inv.Reserve(t.Context(), order, items(a.ID, 3, b.ID, 2))
		if err != nil {
			t.Fatal(err)
		}
		prices("reserve", first)

		dearer := stock.Money{AmountMinor: 5000, Currency: "EUR"}
		if _, err := f.inv.UpdateProduct(t.Context(), a.ID, stock.ProductChange{Price: &dearer}); err != nil {
			t.Fatal(err)
		}
		again, err := f.inv.Reserve(t.Context(), order, items(b.ID, 2, a.ID, 3))
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		prices("retry after a price change", again)
		released, err := f.inv.Release(t.Context(), order)
		if err != nil {
			t.Fatal(err)
		}
		prices("release", released)

		// A row reserved before prices were stored answers its product's current price.
		legacy := uuid.New()
		f.client.Reservation.Create().SetOrderID(legacy).SetProductID(a.ID).SetQuantity(1).ExecX(t.Context())
		want[a.ID] = dearer
		r, err := f.inv.Release(t.Context(), legacy)
		if err != nil || len(r.Items) != 1 || r.Items[0].UnitPrice != dearer {
			t.Errorf("legacy reservation: %+v, %v; want priced at %+v", r, err, dearer)
		}
	})
}

// Product read by hand (WithDriver) is what ent reads, field for field, and tells a missing
// product the same way.
func TestProductByHandMatchesEnt(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		db := dbtest.Open(t, url, migrate.Migrations)
		drv := db.Driver()
		client := ent.NewClient(ent.Driver(drv))
		byHand, byEnt := store.New(client, store.WithDriver(drv)), store.New(client)
		created, err := byEnt.CreateProduct(t.Context(), stock.NewProduct{
			SKU: "HAND-1", Name: "Quoted \"name\" ünicode", Description: "line\nbreak",
			Price: stock.Money{AmountMinor: 123456, Currency: "EUR"}, InitialStock: 7,
		})
		if err != nil {
			t.Fatal(err)
		}
		a, errA := byHand.Product(t.Context(), created.ID)
		b, errB := byEnt.Product(t.Context(), created.ID)
		if errA != nil || errB != nil || a != b || a != created {
			t.Errorf("by hand %+v (%v)\nby ent  %+v (%v)\ncreated %+v", a, errA, b, errB, created)
		}
		if _, err := byHand.Product(t.Context(), uuid.New()); !errors.Is(err, stock.ErrProductNotFound) {
			t.Errorf("missing product by hand: %v, want stock.ErrProductNotFound", err)
		}
	})
}

// A reservation written by hand (WithDriver) stores what ent stores, row for row and column
// for column (IDs and times aside), moves the same stock, answers the same reservation, and
// refuses a short or unknown product the same way.
func TestReserveByHandMatchesEnt(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		db := dbtest.Open(t, url, migrate.Migrations)
		drv := db.Driver()
		client := ent.NewClient(ent.Driver(drv))
		byHand, byEnt := store.New(client, store.WithDriver(drv)), store.New(client)
		ctx := t.Context()
		newProduct := func(sku string, price, units int64) uuid.UUID {
			p, err := byEnt.CreateProduct(ctx, stock.NewProduct{SKU: sku, Name: sku,
				Price: stock.Money{AmountMinor: price, Currency: "EUR"}, InitialStock: units})
			if err != nil {
				t.Fatal(err)
			}
			return p.ID
		}
		x, y := newProduct("HAND-X", 250, 10), newProduct("HAND-Y", 1999, 10)
		items := []stock.Item{{ProductID: x, Quantity: 2}, {ProductID: y, Quantity: 3}}
		if x.String() > y.String() {
			items[0], items[1] = items[1], items[0]
		}
		type stored struct {
			ProductID uuid.UUID
			Quantity  int64
			State     reservation.State
			Price     int64
			Currency  string
		}
		rowsOf := func(order uuid.UUID) []stored {
			rows, err := client.Reservation.Query().Where(reservation.OrderID(order)).Order(reservation.ByProductID()).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out []stored
			for _, r := range rows {
				if r.UnitPriceMinor == nil || r.Currency == nil || r.CreateTime.IsZero() || r.UpdateTime.IsZero() || r.ID == uuid.Nil {
					t.Errorf("row %+v lacks a price, a time or an ID", r)
					continue
				}
				out = append(out, stored{r.ProductID, r.Quantity, r.State, *r.UnitPriceMinor, *r.Currency})
			}
			return out
		}
		var answers [2]stock.Reservation
		var orders [2]uuid.UUID
		for i, s := range []*store.Store{byHand, byEnt} {
			orders[i] = uuid.New()
			r, created, err := s.Reserve(ctx, orders[i], items)
			if err != nil || !created {
				t.Fatalf("reserve (%d): created %v, %v", i, created, err)
			}
			r.OrderID, r.CreateTime, r.UpdateTime = uuid.Nil, r.CreateTime.Truncate(0), r.UpdateTime.Truncate(0)
			answers[i] = r
			if r2, created, err := s.Reserve(ctx, orders[i], items); err != nil || created || len(r2.Items) != 2 {
				t.Errorf("retry (%d): %+v, created %v, %v", i, r2, created, err)
			}
		}
		if a, b := rowsOf(orders[0]), rowsOf(orders[1]); fmt.Sprint(a) != fmt.Sprint(b) || len(a) != 2 {
			t.Errorf("rows by hand %+v\nrows by ent  %+v", a, b)
		}
		if fmt.Sprint(answers[0].Items) != fmt.Sprint(answers[1].Items) || answers[0].State != answers[1].State {
			t.Errorf("answer by hand %+v\nanswer by ent  %+v", answers[0], answers[1])
		}
		for _, id := range []uuid.UUID{x, y} {
			p, err := client.Product.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(10 - 2*2)
			if id == y {
				want = 10 - 2*3
			}
			if p.Available != want || p.Version != 2 { // one reservation by hand, one by ent
				t.Errorf("product %s: available %d version %d, want %d and 2", p.Sku, p.Available, p.Version, want)
			}
		}
		for i, s := range []*store.Store{byHand, byEnt} {
			var short *stock.ShortageError
			if _, _, err := s.Reserve(ctx, uuid.New(), []stock.Item{{ProductID: x, Quantity: 100}}); !errors.As(err, &short) || short.Shortages[0].Available != 6 {
				t.Errorf("short reservation (%d): %v", i, err)
			}
			if _, _, err := s.Reserve(ctx, uuid.New(), []stock.Item{{ProductID: uuid.New(), Quantity: 1}}); !errors.Is(err, stock.ErrProductNotFound) {
				t.Errorf("unknown product (%d): %v, want stock.ErrProductNotFound", i, err)
			}
		}
	})
}
