package catalog_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"mercato.dev/proto/catalog"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	"mercato.dev/proto/gen/go/mercato/notifications/v1/notificationsv1connect"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/proto/gen/go/mercato/xds/v1/xdsv1connect"
)

// wantMethods is the whole API surface, spelled out: the generated connect
// constants must agree with the descriptors, and a method added or removed
// must show up here (and so in review).
var wantMethods = []string{
	customersv1connect.CustomerServiceCreateCustomerProcedure,
	customersv1connect.CustomerServiceGetCustomerProcedure,
	customersv1connect.CustomerServiceSignInProcedure,
	customersv1connect.CustomerServiceUpdateCustomerProcedure,
	inventoryv1connect.InventoryServiceAdjustStockProcedure,
	inventoryv1connect.InventoryServiceCreateProductProcedure,
	inventoryv1connect.InventoryServiceGetProductProcedure,
	inventoryv1connect.InventoryServiceListProductsProcedure,
	inventoryv1connect.InventoryServiceReleaseStockProcedure,
	inventoryv1connect.InventoryServiceReserveStockProcedure,
	inventoryv1connect.InventoryServiceUpdateProductProcedure,
	notificationsv1connect.NotificationServiceListNotificationsProcedure,
	ordersv1connect.OrderServiceCancelOrderProcedure,
	ordersv1connect.OrderServiceCreateOrderProcedure,
	ordersv1connect.OrderServiceGetOrderProcedure,
	ordersv1connect.OrderServiceListOrdersProcedure,
	paymentsv1connect.PaymentServiceAuthorizePaymentProcedure,
	paymentsv1connect.PaymentServiceGetPaymentProcedure,
	paymentsv1connect.PaymentServiceVoidPaymentProcedure,
	xdsv1connect.RegistrationServiceDeregisterProcedure,
	xdsv1connect.RegistrationServiceHeartbeatProcedure,
	xdsv1connect.RegistrationServiceRegisterProcedure,
}

func TestMethods(t *testing.T) {
	t.Parallel()
	want := slices.Sorted(slices.Values(wantMethods))
	if got := catalog.Methods(); !slices.Equal(got, want) {
		t.Errorf("Methods() =\n%q\nwant\n%q", got, want)
	}
	// Spot-check the literal form others rely on.
	if !slices.Contains(catalog.Methods(), "/mercato.orders.v1.OrderService/CreateOrder") {
		t.Error("Methods() lacks /mercato.orders.v1.OrderService/CreateOrder")
	}
}

func TestMethodsResolveInGlobalRegistry(t *testing.T) {
	t.Parallel()
	for _, procedure := range catalog.Methods() {
		// "/pkg.Service/Method" names the method "pkg.Service.Method".
		name := protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(procedure, "/"), "/", "."))
		desc, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
		if err != nil {
			t.Errorf("%s: %v", procedure, err)
			continue
		}
		if _, ok := desc.(protoreflect.MethodDescriptor); !ok {
			t.Errorf("%s resolves to %T, not a method", procedure, desc)
		}
	}
}

func TestMethodsOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		service protoreflect.FullName
		want    []string
	}{
		{
			name:    "payments",
			service: "mercato.payments.v1.PaymentService",
			want: []string{
				paymentsv1connect.PaymentServiceAuthorizePaymentProcedure,
				paymentsv1connect.PaymentServiceGetPaymentProcedure,
				paymentsv1connect.PaymentServiceVoidPaymentProcedure,
			},
		},
		{name: "unknown service", service: "mercato.nope.v1.NopeService", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := catalog.MethodsOf(tt.service); !slices.Equal(got, tt.want) {
				t.Errorf("MethodsOf(%s) = %q, want %q", tt.service, got, tt.want)
			}
		})
	}
}

// TestEveryProtoServiceIsCataloged guards catalog.go's file list: every
// service declared under proto/mercato must be in Services().
func TestEveryProtoServiceIsCataloged(t *testing.T) {
	t.Parallel()
	packageRE := regexp.MustCompile(`(?m)^package ([\w.]+);`)
	serviceRE := regexp.MustCompile(`(?m)^service (\w+) \{`)
	var declared []string
	err := filepath.WalkDir("../mercato", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := packageRE.FindSubmatch(src)
		for _, m := range serviceRE.FindAllSubmatch(src, -1) {
			declared = append(declared, string(pkg[1])+"."+string(m[1]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var cataloged []string
	for _, s := range catalog.Services() {
		cataloged = append(cataloged, string(s.FullName()))
	}
	slices.Sort(declared)
	if !slices.Equal(cataloged, declared) {
		t.Errorf("Services() = %q, but the .proto files declare %q", cataloged, declared)
	}
}
