package stack

import (
	"fmt"
	"net"
	"strconv"

	"mercato.dev/services/kit/config"
)

// Addrs are the listen addresses of the local platform: the architecture's defaults, each
// overridable by the variable its component reads itself, so that a second platform (the
// benchmark smoke run, say) can run on free ports beside `make up`. The launcher reads them
// to probe readiness, to tell the edge where ADS is, and to seed through the public listener.
type Addrs struct {
	Broker          string            // BROKER_ADDR [127.0.0.1:4333]: the JetStream broker `mercato up` runs
	BrokerAdmin     string            // BROKER_ADMIN_ADDR [127.0.0.1:9106]: its /healthz, /readyz, /metrics
	XDSADS          string            // XDS_ADS_ADDR [127.0.0.1:18000]; the dev edge dials it (EDGE_XDS_ADDR)
	XDSRegistration string            // XDS_REGISTRATION_ADDR [127.0.0.1:18001]
	XDSAdmin        string            // XDS_ADMIN_ADDR [127.0.0.1:9100]
	Public          string            // XDS_PUBLIC_ADDR [routes.yaml's, 127.0.0.1:8443]: the edge's HTTPS listener
	EdgeAdmin       string            // EDGE_ADMIN_ADDR [127.0.0.1:9900] (dev edge)
	Service         map[string]string // <SERVICE>_ADDR [127.0.0.1:810x]
	publicSet       bool              // XDS_PUBLIC_ADDR was given (else routes.yaml's listener address)
	Admin           map[string]string // <SERVICE>_ADMIN_ADDR [127.0.0.1:910x]
}

// LocalAddrs resolves the addresses from getenv (os.Getenv in the launcher).
func LocalAddrs(getenv config.Getenv) (Addrs, error) {
	a := Addrs{
		XDSADS:          config.Or(getenv("XDS_ADS_ADDR"), "127.0.0.1:18000"),
		XDSRegistration: config.Or(getenv("XDS_REGISTRATION_ADDR"), "127.0.0.1:18001"),
		XDSAdmin:        config.Or(getenv("XDS_ADMIN_ADDR"), "127.0.0.1:9100"),
		Public:          config.Or(getenv("XDS_PUBLIC_ADDR"), "127.0.0.1:8443"),
		EdgeAdmin:       config.Or(getenv("EDGE_ADMIN_ADDR"), "127.0.0.1:9900"),
		Service:         map[string]string{},
		Admin:           map[string]string{},
	}
	a.publicSet = getenv("XDS_PUBLIC_ADDR") != ""
	a.Broker = config.Or(getenv("BROKER_ADDR"), "127.0.0.1:4333")
	a.BrokerAdmin = config.Or(getenv("BROKER_ADMIN_ADDR"), "127.0.0.1:9106")
	if _, err := a.BrokerPort(); err != nil {
		return a, err
	}
	for _, svc := range Services {
		n := servicePorts[svc]
		a.Service[svc] = config.Or(getenv(config.Var(svc, "ADDR")), fmt.Sprintf("127.0.0.1:810%d", n))
		a.Admin[svc] = config.Or(getenv(config.Var(svc, "ADMIN_ADDR")), fmt.Sprintf("127.0.0.1:910%d", n))
	}
	return a, nil
}

// BrokerPort is the port of BROKER_ADDR.
func (a Addrs) BrokerPort() (int, error) {
	_, p, err := net.SplitHostPort(a.Broker)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil || port < 1 || port > 65535 {
		return 0, fmt.Errorf("BROKER_ADDR %q is not host:port", a.Broker)
	}
	return port, nil
}

// PublicURL is the edge's URL for clients on this machine (the dev certificate names localhost).
func (a Addrs) PublicURL() string {
	_, port, err := net.SplitHostPort(a.Public)
	if err != nil {
		port = "8443"
	}
	return "https://localhost:" + port
}

// env is what every component is started with, so that all agree on where the others are.
func (a Addrs) env() []string {
	e := []string{
		"XDS_ADS_ADDR=" + a.XDSADS, "XDS_REGISTRATION_ADDR=" + a.XDSRegistration, "XDS_ADMIN_ADDR=" + a.XDSAdmin,
		"EDGE_XDS_ADDR=" + a.XDSADS, "EDGE_ADMIN_ADDR=" + a.EdgeAdmin,
	}
	if a.publicSet {
		e = append(e, "XDS_PUBLIC_ADDR="+a.Public)
	}
	for _, svc := range Services {
		e = append(e, config.Var(svc, "ADDR")+"="+a.Service[svc], config.Var(svc, "ADMIN_ADDR")+"="+a.Admin[svc])
	}
	return e
}
