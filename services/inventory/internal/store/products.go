package store

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	ent "mercato.dev/ent/inventory"
	"mercato.dev/ent/inventory/predicate"
	"mercato.dev/ent/inventory/product"
	"mercato.dev/services/inventory/internal/stock"
)

// ListProducts returns up to limit products after afterSKU, ordered by SKU (keyset pagination
// on the unique SKU index).
func (s *Store) ListProducts(ctx context.Context, afterSKU string, limit int) ([]stock.Product, error) {
	q := s.client.Product.Query().Order(product.BySku()).Limit(limit)
	if afterSKU != "" {
		q = q.Where(product.SkuGT(afterSKU))
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	out := make([]stock.Product, len(rows))
	for i, row := range rows {
		out[i] = toProduct(row)
	}
	return out, nil
}

// Product returns one product or stock.ErrProductNotFound.
func (s *Store) Product(ctx context.Context, id uuid.UUID) (stock.Product, error) {
	if s.drv != nil {
		return s.productByHand(ctx, id)
	}
	row, err := s.client.Product.Get(ctx, id)
	if err != nil {
		return stock.Product{}, productErr(id, err)
	}
	return toProduct(row), nil
}

// productSQL reads one product by ID; the placeholder follows.
const productSQL = `SELECT "id", "sku", "name", "description", "price_minor", "currency", "available", ` +
	`"create_time", "update_time" FROM "products" WHERE "id" = `

// productByHand is Product through the driver: the same statement ent writes for Get, scanned
// straight into a stock.Product (outside a transaction the driver sends it to a read
// connection, with its trace span, as it does ent's).
func (s *Store) productByHand(ctx context.Context, id uuid.UUID) (stock.Product, error) {
	arg := "?"
	if s.drv.Dialect() == dialect.Postgres {
		arg = "$1"
	}
	var rows entsql.Rows
	if err := s.drv.Query(ctx, productSQL+arg, []any{id}, &rows); err != nil {
		return stock.Product{}, fmt.Errorf("product %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return stock.Product{}, fmt.Errorf("product %s: %w", id, err)
		}
		return stock.Product{}, fmt.Errorf("product %s: %w", id, stock.ErrProductNotFound)
	}
	var p stock.Product
	if err := rows.Scan(&p.ID, &p.SKU, &p.Name, &p.Description, &p.Price.AmountMinor, &p.Price.Currency,
		&p.Available, &p.CreateTime, &p.UpdateTime); err != nil {
		return stock.Product{}, fmt.Errorf("product %s: %w", id, err)
	}
	p.CreateTime, p.UpdateTime = storedTime(p.CreateTime), storedTime(p.UpdateTime)
	return p, rows.Close()
}

// CreateProduct inserts the product and records its initial stock as an adjustment.
func (s *Store) CreateProduct(ctx context.Context, p stock.NewProduct) (stock.Product, error) {
	var out stock.Product
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		row, err := tx.Product.Create().
			SetSku(p.SKU).SetName(p.Name).SetDescription(p.Description).
			SetPriceMinor(p.Price.AmountMinor).SetCurrency(p.Price.Currency).
			SetAvailable(p.InitialStock).
			Save(ctx)
		if err != nil {
			return err
		}
		if p.InitialStock > 0 {
			err = tx.StockAdjustment.Create().SetProductID(row.ID).SetDelta(p.InitialStock).
				SetReason("initial stock").Exec(ctx)
		}
		out = toProduct(row)
		return err
	})
	if isUnique(err) {
		return stock.Product{}, fmt.Errorf("create product %s: %w", p.SKU, stock.ErrSKUTaken)
	}
	if err != nil {
		return stock.Product{}, fmt.Errorf("create product %s: %w", p.SKU, err)
	}
	return out, nil
}

// UpdateProduct sets the changed fields and bumps the version.
func (s *Store) UpdateProduct(ctx context.Context, id uuid.UUID, c stock.ProductChange) (stock.Product, error) {
	u := s.client.Product.UpdateOneID(id).AddVersion(1)
	if c.Name != nil {
		u.SetName(*c.Name)
	}
	if c.Description != nil {
		u.SetDescription(*c.Description)
	}
	if c.Price != nil {
		u.SetPriceMinor(c.Price.AmountMinor).SetCurrency(c.Price.Currency)
	}
	row, err := u.Save(ctx)
	if err != nil {
		return stock.Product{}, productErr(id, err)
	}
	return toProduct(row), nil
}

// AdjustStock moves available stock by a.Delta with a guarded update and records the
// adjustment, in one transaction. A removal larger than the stock is a *stock.ShortageError.
func (s *Store) AdjustStock(ctx context.Context, a stock.Adjustment) (stock.Product, error) {
	var out stock.Product
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		guard := []predicate.Product{product.ID(a.ProductID)}
		if a.Delta < 0 {
			guard = append(guard, product.AvailableGTE(-a.Delta))
		}
		n, err := tx.Product.Update().Where(guard...).AddAvailable(a.Delta).AddVersion(1).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return adjustRefused(ctx, tx, a)
		}
		err = tx.StockAdjustment.Create().SetProductID(a.ProductID).SetDelta(a.Delta).SetReason(a.Reason).Exec(ctx)
		if err != nil {
			return err
		}
		row, err := tx.Product.Get(ctx, a.ProductID)
		out = toProduct(row)
		return err
	})
	if err != nil {
		return stock.Product{}, fmt.Errorf("adjust stock of %s by %d: %w", a.ProductID, a.Delta, err)
	}
	return out, nil
}

// adjustRefused says why the guarded update of an adjustment changed no row.
func adjustRefused(ctx context.Context, tx *ent.Tx, a stock.Adjustment) error {
	row, err := tx.Product.Get(ctx, a.ProductID)
	if err != nil {
		return productErr(a.ProductID, err)
	}
	return &stock.ShortageError{Shortages: []stock.Shortage{
		{ProductID: a.ProductID, Requested: -a.Delta, Available: row.Available},
	}}
}

func productErr(id uuid.UUID, err error) error {
	if ent.IsNotFound(err) {
		return fmt.Errorf("product %s: %w", id, stock.ErrProductNotFound)
	}
	return fmt.Errorf("product %s: %w", id, err)
}

func toProduct(row *ent.Product) stock.Product {
	if row == nil {
		return stock.Product{}
	}
	return stock.Product{
		ID: row.ID, SKU: row.Sku, Name: row.Name, Description: row.Description,
		Price:     stock.Money{AmountMinor: row.PriceMinor, Currency: row.Currency},
		Available: row.Available, CreateTime: storedTime(row.CreateTime), UpdateTime: storedTime(row.UpdateTime),
	}
}

// storedTime is t in UTC as the database keeps it (PostgreSQL: microseconds), so that the answer to
// the call that wrote a row equals every later read of it.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
