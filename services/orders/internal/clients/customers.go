package clients

import (
	"context"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	"mercato.dev/services/kit/client"

	"mercato.dev/services/orders/internal/saga"
)

// Customers asks the customers service whether a customer may order.
type Customers struct {
	c customersv1connect.CustomerServiceClient
}

var _ saga.Customers = (*Customers)(nil)

// NewCustomers returns the adapter over a connection to customers.
func NewCustomers(conn *client.Conn) *Customers {
	return &Customers{c: customersv1connect.NewCustomerServiceClient(conn.HTTPClient, conn.BaseURL, conn.Options()...)}
}

// CheckCustomer is nil for an active customer.
func (c *Customers) CheckCustomer(ctx context.Context, id uuid.UUID) error {
	res, err := c.c.GetCustomer(ctx, &customersv1.GetCustomerRequest{CustomerId: id.String()})
	switch {
	case isCode(err, connect.CodeNotFound):
		return saga.ErrCustomerNotFound
	case err != nil:
		return fail("customers.GetCustomer", err)
	case res.GetCustomer().GetStatus() != customersv1.CustomerStatus_CUSTOMER_STATUS_ACTIVE:
		return saga.ErrCustomerInactive
	}
	return nil
}
