// Package catalog lists the RPC methods of every Mercato service, read from
// the generated descriptors, so that code which must cover every method (an
// authorization table and its test, a route list, a dashboard) can enumerate
// them instead of copying names by hand.
package catalog

import (
	"cmp"
	"slices"

	"google.golang.org/protobuf/reflect/protoreflect"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	xdsv1 "mercato.dev/proto/gen/go/mercato/xds/v1"
)

// serviceFiles are the proto files that declare services. A new service file
// goes here; catalog_test.go fails until it does.
var serviceFiles = []protoreflect.FileDescriptor{
	customersv1.File_mercato_customers_v1_customers_proto,
	inventoryv1.File_mercato_inventory_v1_inventory_proto,
	notificationsv1.File_mercato_notifications_v1_notifications_proto,
	ordersv1.File_mercato_orders_v1_orders_proto,
	paymentsv1.File_mercato_payments_v1_payments_proto,
	xdsv1.File_mercato_xds_v1_registration_proto,
}

// Services returns the descriptor of every Mercato service, sorted by full
// name (e.g. "mercato.orders.v1.OrderService").
func Services() []protoreflect.ServiceDescriptor {
	var services []protoreflect.ServiceDescriptor
	for _, file := range serviceFiles {
		for i := range file.Services().Len() {
			services = append(services, file.Services().Get(i))
		}
	}
	slices.SortFunc(services, func(a, b protoreflect.ServiceDescriptor) int {
		return cmp.Compare(a.FullName(), b.FullName())
	})
	return services
}

// Methods returns the procedure of every method of every Mercato service,
// sorted: "/mercato.orders.v1.OrderService/CreateOrder" and so on, the form
// connect.Spec.Procedure and the generated *Procedure constants use.
func Methods() []string {
	var procedures []string
	for _, service := range Services() {
		procedures = append(procedures, methodsOf(service)...)
	}
	slices.Sort(procedures)
	return procedures
}

// MethodsOf returns the sorted procedures of one service, named by its full
// name ("mercato.orders.v1.OrderService"), or nil for an unknown service.
func MethodsOf(service protoreflect.FullName) []string {
	for _, s := range Services() {
		if s.FullName() == service {
			procedures := methodsOf(s)
			slices.Sort(procedures)
			return procedures
		}
	}
	return nil
}

// Procedure returns a method's procedure: "/<service full name>/<method>".
func Procedure(method protoreflect.MethodDescriptor) string {
	return "/" + string(method.Parent().FullName()) + "/" + string(method.Name())
}

func methodsOf(service protoreflect.ServiceDescriptor) []string {
	methods := service.Methods()
	procedures := make([]string, 0, methods.Len())
	for i := range methods.Len() {
		procedures = append(procedures, Procedure(methods.Get(i)))
	}
	return procedures
}
