package deploy_test

// designedFlows is the call graph of ARCHITECTURE.md, as connections between workloads of
// namespace mercato: the edge calls every service (the table's "edge" callers) and the control
// plane's ADS; orders calls customers, inventory and payments; every service registers with
// the control plane; the producers (orders, payments) and the consumer (notifications) use the
// broker.
var designedFlows = []flow{
	{"edge", "xds", 18000},
	{"edge", "customers", 8101},
	{"edge", "inventory", 8102},
	{"edge", "orders", 8103},
	{"edge", "payments", 8104},
	{"edge", "notifications", 8105},
	{"orders", "customers", 8101},
	{"orders", "inventory", 8102},
	{"orders", "payments", 8104},
	{"customers", "xds", 18001},
	{"inventory", "xds", 18001},
	{"orders", "xds", 18001},
	{"payments", "xds", 18001},
	{"notifications", "xds", 18001},
	{"orders", "broker", 4222},
	{"payments", "broker", 4222},
	{"notifications", "broker", 4222},
}
