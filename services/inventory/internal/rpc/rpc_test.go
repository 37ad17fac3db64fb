package rpc_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/services/kit/identity"
)

// TestEveryProtocol runs the catalog and reservation calls over Connect JSON, Connect binary,
// gRPC and gRPC-Web, through mTLS with real SVIDs.
func TestEveryProtocol(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	protocols := []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect-json", []connect.ClientOption{connect.WithProtoJSON()}},
		{"connect-binary", nil},
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			admin := f.client(t, identity.Edge, &adminClaims, p.opts...)
			orders := f.client(t, ordersSvc, nil, p.opts...)
			anon := f.client(t, identity.Edge, nil, p.opts...)
			created := createProduct(t, admin, "SKU-"+strings.ToUpper(p.name), 5)

			got, err := anon.GetProduct(t.Context(), &inventoryv1.GetProductRequest{ProductId: created.GetProductId()})
			if err != nil || got.GetProduct().GetSku() != created.GetSku() || got.GetProduct().GetAvailable() != 5 {
				t.Fatalf("get: %v, %v", got, err)
			}
			order := uuid.NewString()
			item := &inventoryv1.ReservationItem{ProductId: created.GetProductId(), Quantity: 2}
			res, err := orders.ReserveStock(t.Context(), &inventoryv1.ReserveStockRequest{OrderId: order, Items: []*inventoryv1.ReservationItem{item}})
			if err != nil || res.GetReservation().GetState() != inventoryv1.ReservationState_RESERVATION_STATE_RESERVED {
				t.Fatalf("reserve: %v, %v", res, err)
			}
			rel, err := orders.ReleaseStock(t.Context(), &inventoryv1.ReleaseStockRequest{OrderId: order})
			if err != nil || rel.GetReservation().GetState() != inventoryv1.ReservationState_RESERVATION_STATE_RELEASED || len(rel.GetReservation().GetItems()) != 1 {
				t.Fatalf("release: %v, %v", rel, err)
			}
			adj, err := admin.AdjustStock(t.Context(), &inventoryv1.AdjustStockRequest{ProductId: created.GetProductId(), Delta: 3, Reason: "delivery"})
			if err != nil || adj.GetProduct().GetAvailable() != 8 {
				t.Fatalf("adjust: %v, %v", adj, err)
			}
		})
	}
}

func TestReserveShortReturnsInsufficientStockPerProduct(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin, orders := f.admin(t), f.orders(t)
	a, b, c := createProduct(t, admin, "SKU-A", 1), createProduct(t, admin, "SKU-B", 10), createProduct(t, admin, "SKU-C", 0)
	_, err := orders.ReserveStock(t.Context(), &inventoryv1.ReserveStockRequest{OrderId: uuid.NewString(), Items: []*inventoryv1.ReservationItem{
		{ProductId: a.GetProductId(), Quantity: 2},
		{ProductId: b.GetProductId(), Quantity: 2},
		{ProductId: c.GetProductId(), Quantity: 1},
	}})
	cerr := wantCode(t, err, connect.CodeFailedPrecondition)
	got := insufficient(t, cerr)
	want := []string{a.GetProductId() + " 2/1", c.GetProductId() + " 1/0"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("details %v, want %v", got, want)
	}
	p, _ := admin.GetProduct(t.Context(), &inventoryv1.GetProductRequest{ProductId: b.GetProductId()})
	if p.GetProduct().GetAvailable() != 10 {
		t.Errorf("a refused reservation took stock of SKU-B: %d left", p.GetProduct().GetAvailable())
	}

	_, err = admin.AdjustStock(t.Context(), &inventoryv1.AdjustStockRequest{ProductId: a.GetProductId(), Delta: -5, Reason: "count"})
	if got := insufficient(t, wantCode(t, err, connect.CodeFailedPrecondition)); !slices.Equal(got, []string{a.GetProductId() + " 5/1"}) {
		t.Errorf("adjust details %v", got)
	}
}

// insufficient renders the InsufficientStock details as "product requested/available", sorted.
func insufficient(t *testing.T, cerr *connect.Error) []string {
	t.Helper()
	var out []string
	for _, d := range cerr.Details() {
		msg, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		is, ok := msg.(*inventoryv1.InsufficientStock)
		if !ok {
			t.Fatalf("unexpected detail %T", msg)
		}
		out = append(out, is.GetProductId()+" "+itoa(is.GetRequested())+"/"+itoa(is.GetAvailable()))
	}
	slices.Sort(out)
	return out
}

func TestConflictCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin, orders := f.admin(t), f.orders(t)
	p := createProduct(t, admin, "SKU-A", 5)
	_, err := admin.CreateProduct(t.Context(), &inventoryv1.CreateProductRequest{Sku: "SKU-A", Name: "again", Price: eur(1)})
	wantCode(t, err, connect.CodeAlreadyExists)

	_, err = admin.GetProduct(t.Context(), &inventoryv1.GetProductRequest{ProductId: uuid.NewString()})
	wantCode(t, err, connect.CodeNotFound)

	order := uuid.NewString()
	reserve := func(productID string) error {
		_, err := orders.ReserveStock(t.Context(), &inventoryv1.ReserveStockRequest{OrderId: order,
			Items: []*inventoryv1.ReservationItem{{ProductId: productID, Quantity: 1}}})
		return err
	}
	wantCode(t, reserve(uuid.NewString()), connect.CodeNotFound)
	if err := reserve(p.GetProductId()); err != nil {
		t.Fatal(err)
	}
	if err := reserve(p.GetProductId()); err != nil {
		t.Fatalf("retried reservation: %v", err)
	}
	if _, err := orders.ReleaseStock(t.Context(), &inventoryv1.ReleaseStockRequest{OrderId: order}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, reserve(p.GetProductId()), connect.CodeFailedPrecondition) // released stays released

	res, err := orders.ReleaseStock(t.Context(), &inventoryv1.ReleaseStockRequest{OrderId: uuid.NewString()})
	if err != nil || res.GetReservation().GetState() != inventoryv1.ReservationState_RESERVATION_STATE_RELEASED {
		t.Errorf("release of an unknown order: %v, %v; want a no-op success", res, err)
	}
}

func TestInvalidRequestsNameTheirFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin, orders := f.admin(t), f.orders(t)
	p := createProduct(t, admin, "SKU-A", 5).GetProductId()
	item := func(id string, q int32) *inventoryv1.ReservationItem {
		return &inventoryv1.ReservationItem{ProductId: id, Quantity: q}
	}
	tests := []struct {
		name string
		call func() error
		want []string
	}{
		{"bad uuid", func() error {
			_, err := admin.GetProduct(t.Context(), &inventoryv1.GetProductRequest{ProductId: "not-a-uuid"})
			return err
		}, []string{"product_id"}},
		{"quantity 0", func() error {
			_, err := orders.ReserveStock(t.Context(), &inventoryv1.ReserveStockRequest{OrderId: uuid.NewString(), Items: []*inventoryv1.ReservationItem{item(p, 0)}})
			return err
		}, []string{"items[0].quantity"}},
		{"duplicate products", func() error {
			_, err := orders.ReserveStock(t.Context(), &inventoryv1.ReserveStockRequest{OrderId: uuid.NewString(), Items: []*inventoryv1.ReservationItem{item(p, 1), item(p, 2)}})
			return err
		}, []string{"items"}},
		{"bad order id and no items", func() error {
			_, err := orders.ReserveStock(t.Context(), &inventoryv1.ReserveStockRequest{OrderId: "x"})
			return err
		}, []string{"items", "order_id"}},
		{"zero delta", func() error {
			_, err := admin.AdjustStock(t.Context(), &inventoryv1.AdjustStockRequest{ProductId: p, Reason: "x"})
			return err
		}, []string{"delta"}},
		{"page size over 100", func() error {
			_, err := admin.ListProducts(t.Context(), &inventoryv1.ListProductsRequest{PageSize: 101})
			return err
		}, []string{"page_size"}},
		{"forged page token", func() error {
			_, err := admin.ListProducts(t.Context(), &inventoryv1.ListProductsRequest{PageToken: "b2Zmc2V0PTIw"})
			return err
		}, []string{"page_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fieldPaths(t, wantCode(t, tt.call(), connect.CodeInvalidArgument))
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("field paths %v, want %v", got, tt.want)
			}
		})
	}
}

func TestListProductsPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin, anon := f.admin(t), f.client(t, identity.Edge, nil, connect.WithProtoJSON())
	for i := range 25 {
		createProduct(t, admin, "SKU-"+itoa(int64(100+i)), 1)
	}
	var skus []string
	token, pages := "", 0
	for {
		res, err := anon.ListProducts(t.Context(), &inventoryv1.ListProductsRequest{PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range res.GetProducts() {
			skus = append(skus, p.GetSku())
		}
		if token = res.GetNextPageToken(); token == "" {
			break
		}
		if strings.Contains(token, "SKU") {
			t.Errorf("page token %q is not opaque", token)
		}
	}
	if pages != 2 || len(skus) != 25 || !slices.IsSorted(skus) || skus[0] != "SKU-100" {
		t.Errorf("%d pages with %v", pages, skus)
	}
	res, err := anon.ListProducts(t.Context(), &inventoryv1.ListProductsRequest{PageSize: 7})
	if err != nil || len(res.GetProducts()) != 7 || res.GetNextPageToken() == "" {
		t.Errorf("page_size 7: %d products, next %q, %v", len(res.GetProducts()), res.GetNextPageToken(), err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestReserveAnswersUnitPrices: every reserved item carries the unit price it was reserved at
// (a price in the request is ignored), and a retry after the price changed answers the same
// prices, not the product's new one.
func TestReserveAnswersUnitPrices(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin, orders := f.admin(t), f.orders(t)
	a := createProduct(t, admin, "SKU-P", 5)
	req := &inventoryv1.ReserveStockRequest{OrderId: uuid.NewString(), Items: []*inventoryv1.ReservationItem{
		{ProductId: a.GetProductId(), Quantity: 2, UnitPrice: eur(1)},
	}}
	price := func(what string, r *inventoryv1.Reservation) {
		t.Helper()
		items := r.GetItems()
		if len(items) != 1 || items[0].GetUnitPrice().GetAmountMinor() != 1999 || items[0].GetUnitPrice().GetCurrency() != "EUR" {
			t.Errorf("%s: items %v, want 2 × 1999 EUR", what, items)
		}
	}
	res, err := orders.ReserveStock(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	price("reserve", res.GetReservation())
	if _, err := admin.UpdateProduct(t.Context(), &inventoryv1.UpdateProductRequest{ProductId: a.GetProductId(), Price: eur(1)}); err != nil {
		t.Fatal(err)
	}
	res, err = orders.ReserveStock(t.Context(), req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	price("retry after a price change", res.GetReservation())
}
