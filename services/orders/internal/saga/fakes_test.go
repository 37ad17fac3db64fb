package saga_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/saga"
)

// memStore is an in-memory saga.Store with the same conditional semantics as the ent store.
type memStore struct {
	mu     sync.Mutex
	orders map[uuid.UUID]order.Order
	steps  []order.Step // every step persisted, in order
}

var _ saga.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{orders: map[uuid.UUID]order.Order{}} }

func (m *memStore) Create(_ context.Context, o order.Order) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.orders {
		if x.CustomerID == o.CustomerID && x.IdempotencyKey == o.IdempotencyKey {
			return saga.ErrDuplicate
		}
	}
	o.Items = slices.Clone(o.Items)
	m.orders[o.ID] = o
	m.steps = append(m.steps, o.Step)
	return nil
}

func (m *memStore) Get(_ context.Context, id uuid.UUID) (order.Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok {
		return o, order.ErrNotFound
	}
	o.Items = slices.Clone(o.Items)
	return o, nil
}

func (m *memStore) GetByKey(_ context.Context, customerID uuid.UUID, key string) (order.Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.orders {
		if o.CustomerID == customerID && o.IdempotencyKey == key {
			return o, nil
		}
	}
	return order.Order{}, order.ErrNotFound
}

func (m *memStore) Claim(_ context.Context, id uuid.UUID, lease order.Lease, now time.Time) (order.Order, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok {
		return o, false, order.ErrNotFound
	}
	if !o.Lease.Free(now) {
		return o, false, nil
	}
	o.Lease = lease
	m.orders[id] = o
	return o, true, nil
}

func (m *memStore) Renew(_ context.Context, id uuid.UUID, lease order.Lease) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.orders[id]
	if o.Lease.Owner != lease.Owner {
		return false, nil
	}
	o.Lease = lease
	m.orders[id] = o
	return true, nil
}

func (m *memStore) Release(_ context.Context, id uuid.UUID, owner string, attempts int, retryAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.orders[id]
	if o.Lease.Owner != owner {
		return nil
	}
	o.Lease = order.Lease{ExpiresAt: retryAt}
	o.Attempts = attempts
	m.orders[id] = o
	return nil
}

func (m *memStore) Advance(_ context.Context, owner string, from order.Step, o order.Order) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.orders[o.ID]
	if cur.Lease.Owner != owner || cur.Step != from {
		return order.ErrLeaseLost
	}
	o.Lease, o.Attempts = cur.Lease, cur.Attempts
	if o.Settled() {
		o.Lease = order.Lease{}
	}
	o.Items = slices.Clone(o.Items)
	m.orders[o.ID] = o
	m.steps = append(m.steps, o.Step)
	return nil
}

func (m *memStore) Unfinished(_ context.Context, now time.Time, limit int) ([]uuid.UUID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []uuid.UUID
	for id, o := range m.orders {
		if !o.Settled() && o.Lease.Free(now) && len(ids) < limit {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// put stores o as it is (a saga left half-way by a crash).
func (m *memStore) put(o order.Order) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.orders[o.ID] = o
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.orders)
}

// fakeDeps implements Customers, Inventory and Payments over a tiny catalog, counting calls.
// An error field set makes the corresponding call fail with it.
type fakeDeps struct {
	mu                sync.Mutex
	customers         map[uuid.UUID]bool // active
	prices            map[uuid.UUID]order.Money
	stock             map[uuid.UUID]int64
	reserved          map[uuid.UUID][]order.Item // by order, each line at the price it was reserved at
	payments          map[uuid.UUID]string       // by order: authorized, declined, voided
	customerErr       error
	reserveErr        error
	releaseErr        error
	authorizeErr      error
	voidErr           error
	checks            atomic.Int64 // CheckCustomer calls
	reserves, authzs  atomic.Int64
	releases, voids   atomic.Int64
	authorizeGate     chan struct{} // when set, Authorize waits for it
	declineMethod     string
	unpriced          atomic.Bool // Reserve answers no prices, as an inventory before the contract did
	lastAuthorization saga.Payment
}

func newFakeDeps() *fakeDeps {
	return &fakeDeps{
		customers: map[uuid.UUID]bool{}, prices: map[uuid.UUID]order.Money{}, stock: map[uuid.UUID]int64{},
		reserved: map[uuid.UUID][]order.Item{}, payments: map[uuid.UUID]string{}, declineMethod: "pm_card_declined",
	}
}

func (f *fakeDeps) addCustomer(active bool) uuid.UUID {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := uuid.New()
	f.customers[id] = active
	return id
}

func (f *fakeDeps) addProduct(amount int64, currency string, stock int64) uuid.UUID {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := uuid.New()
	f.prices[id] = order.Money{Amount: amount, Currency: currency}
	f.stock[id] = stock
	return id
}

func (f *fakeDeps) stockOf(id uuid.UUID) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stock[id]
}

func (f *fakeDeps) paymentOf(orderID uuid.UUID) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.payments[orderID]
}

func (f *fakeDeps) set(field *error, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*field = err
}

func (f *fakeDeps) get(field *error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *field
}

func (f *fakeDeps) setPrice(id uuid.UUID, amount int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prices[id] = order.Money{Amount: amount, Currency: f.prices[id].Currency}
}

func (f *fakeDeps) CheckCustomer(_ context.Context, id uuid.UUID) error {
	f.checks.Add(1)
	if err := f.get(&f.customerErr); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	active, ok := f.customers[id]
	switch {
	case !ok:
		return saga.ErrCustomerNotFound
	case !active:
		return saga.ErrCustomerInactive
	}
	return nil
}

// Reserve is inventory's contract: all lines or none, each at the product's price when it
// reserved; a retry moves nothing and answers the prices stored then.
func (f *fakeDeps) Reserve(_ context.Context, orderID uuid.UUID, items []order.Item) (map[uuid.UUID]order.Money, error) {
	f.reserves.Add(1)
	if err := f.get(&f.reserveErr); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if held, ok := f.reserved[orderID]; ok {
		prices := map[uuid.UUID]order.Money{}
		if f.unpriced.Load() {
			return prices, nil
		}
		for _, it := range held {
			prices[it.ProductID] = order.Money{Amount: it.UnitPrice, Currency: f.prices[it.ProductID].Currency}
		}
		return prices, nil
	}
	for _, it := range items {
		if _, ok := f.prices[it.ProductID]; !ok {
			return nil, saga.ErrProductNotFound
		}
	}
	short := &saga.OutOfStockError{}
	for _, it := range items {
		if f.stock[it.ProductID] < it.Quantity {
			short.Short = append(short.Short, saga.Shortage{ProductID: it.ProductID, Requested: it.Quantity, Available: f.stock[it.ProductID]})
		}
	}
	if len(short.Short) > 0 {
		return nil, short
	}
	prices := map[uuid.UUID]order.Money{}
	held := slices.Clone(items)
	for i, it := range held {
		f.stock[it.ProductID] -= it.Quantity
		prices[it.ProductID] = f.prices[it.ProductID]
		held[i].UnitPrice = f.prices[it.ProductID].Amount
	}
	f.reserved[orderID] = held
	if f.unpriced.Load() {
		return map[uuid.UUID]order.Money{}, nil
	}
	return prices, nil
}

func (f *fakeDeps) Release(_ context.Context, orderID uuid.UUID) error {
	f.releases.Add(1)
	if err := f.get(&f.releaseErr); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range f.reserved[orderID] {
		f.stock[it.ProductID] += it.Quantity
	}
	if f.reserved[orderID] != nil {
		f.reserved[orderID] = []order.Item{}
	}
	return nil
}

func (f *fakeDeps) Authorize(ctx context.Context, p saga.Payment) (uuid.UUID, error) {
	f.authzs.Add(1)
	if f.authorizeGate != nil {
		select {
		case <-f.authorizeGate:
		case <-ctx.Done():
			return uuid.Nil, ctx.Err()
		}
	}
	if err := f.get(&f.authorizeErr); err != nil {
		return uuid.Nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastAuthorization = p
	if _, ok := f.payments[p.OrderID]; !ok {
		f.payments[p.OrderID] = "authorized"
		if p.Method == f.declineMethod {
			f.payments[p.OrderID] = "declined"
		}
	}
	if f.payments[p.OrderID] == "declined" {
		return uuid.Nil, saga.ErrDeclined
	}
	return uuid.NewSHA1(uuid.Nil, p.OrderID[:]), nil
}

func (f *fakeDeps) Void(_ context.Context, orderID uuid.UUID) error {
	f.voids.Add(1)
	if err := f.get(&f.voidErr); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.payments[orderID] == "authorized" {
		f.payments[orderID] = "voided"
	}
	return nil
}
