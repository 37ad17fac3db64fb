// Package config reads a service's settings from the environment, with the platform's local
// defaults (see the README's table), into an explicit struct that main hands to constructors.
// Only main calls it; nothing deeper reads the environment.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// DefaultNATSURL is the broker `mercato up` runs (bin/broker, mTLS only; the machine's own
// NATS, if any, keeps the standard port 4222).
const DefaultNATSURL = "tls://127.0.0.1:4333"

// Services are Mercato's services, in the order of their default ports (810x, 910x).
var Services = []string{"customers", "inventory", "orders", "payments", "notifications"}

// Getenv is how settings are looked up; os.Getenv in main, a map in tests.
type Getenv func(string) string

// Service is what every service process needs to start.
type Service struct {
	Name          string
	Addr          string // mTLS listener
	AdminAddr     string // health and metrics, plain HTTP
	DataDir       string
	WorkloadAPI   string // unix:///…/agent.sock
	DatabaseURL   string // sqlite file under DataDir unless <SERVICE>_DATABASE_URL is set
	NATSURL       string // NATS_URL: the JetStream broker events go through
	XDSAddr       string // XDS_REGISTRATION_ADDR: the control plane's registration API; "" = do not register
	AdvertiseHost string // ADVERTISE_HOST: the host the edge dials (the pod IP); default the listener's host
	DebugAddr     string // <SERVICE>_DEBUG_ADDR: loopback pprof listener; "" (the default) = none
	LogLevel      slog.Level
	DrainTimeout  time.Duration
	// DeregisterGrace is how long a stopping service keeps serving after it deregistered from the
	// control plane, so the edge has dropped its endpoint before the listener closes.
	DeregisterGrace time.Duration
}

// Load reads the settings of the named service.
func Load(name string, getenv Getenv) (Service, error) {
	i := slices.Index(Services, name)
	if i < 0 {
		return Service{}, fmt.Errorf("config: unknown service %q", name)
	}
	data := DataDir(getenv)
	svc := Service{
		Name:          name,
		Addr:          Or(getenv(Var(name, "ADDR")), fmt.Sprintf("127.0.0.1:%d", 8101+i)),
		AdminAddr:     Or(getenv(Var(name, "ADMIN_ADDR")), fmt.Sprintf("127.0.0.1:%d", 9101+i)),
		DataDir:       data,
		WorkloadAPI:   WorkloadAPI(getenv),
		DatabaseURL:   Or(getenv(Var(name, "DATABASE_URL")), "sqlite://"+filepath.Join(data, name, name+".db")),
		NATSURL:       Or(getenv("NATS_URL"), DefaultNATSURL),
		XDSAddr:       xdsAddr(getenv("XDS_REGISTRATION_ADDR")),
		AdvertiseHost: getenv("ADVERTISE_HOST"),
		DebugAddr:     getenv(Var(name, "DEBUG_ADDR")),
	}
	var errs []error
	if err := CheckLoopback(svc.DebugAddr); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", Var(name, "DEBUG_ADDR"), err))
	}
	if err := svc.LogLevel.UnmarshalText([]byte(Or(getenv("LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	var err error
	if svc.DrainTimeout, err = Duration(getenv, "DRAIN_TIMEOUT", 20*time.Second); err != nil {
		errs = append(errs, err)
	}
	if svc.DeregisterGrace, err = Duration(getenv, "DEREGISTER_GRACE", 500*time.Millisecond); err != nil {
		errs = append(errs, err)
	}
	return svc, errors.Join(errs...)
}

// xdsAddr is the registration address: the local default, or none when set to "off".
func xdsAddr(v string) string {
	switch v {
	case "":
		return "127.0.0.1:18001"
	case "off":
		return ""
	}
	return v
}

// PeerAddr is where a peer service listens: <PEER>_ADDR, or its local default.
func PeerAddr(peer string, getenv Getenv) string {
	i := slices.Index(Services, peer)
	return Or(getenv(Var(peer, "ADDR")), fmt.Sprintf("127.0.0.1:%d", 8101+i))
}

// DataDir is MERCATO_DATA, default ".data", made absolute.
func DataDir(getenv Getenv) string {
	dir, err := filepath.Abs(Or(getenv("MERCATO_DATA"), ".data"))
	if err != nil {
		return ".data"
	}
	return dir
}

// WorkloadAPI is SPIFFE_ENDPOINT_SOCKET (the variable go-spiffe reads), default the local
// issuer's socket under the data directory.
func WorkloadAPI(getenv Getenv) string {
	return Or(getenv("SPIFFE_ENDPOINT_SOCKET"), "unix://"+filepath.Join(DataDir(getenv), "spiffe", "agent.sock"))
}

// CheckLoopback accepts "" or a host:port whose host is a loopback IP or "localhost": a debug
// listener (pprof shows memory and can be made to spend CPU) must never bind the pod network.
func CheckLoopback(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (want 127.0.0.1:port or [::1]:port)", addr)
	}
	return nil
}

// Var names a service's variable: Var("orders", "ADDR") is ORDERS_ADDR.
func Var(service, name string) string { return strings.ToUpper(service) + "_" + name }

// Duration parses a Go duration variable, def when unset.
func Duration(getenv Getenv, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// Or returns v, or def when v is empty.
func Or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// DefaultGOGC is the garbage collector's target that TuneGC sets: the heap may grow to five
// times what is live between collections, instead of Go's twice (GOGC=100).
const DefaultGOGC = 400

// TuneGC sets the collector's target to DefaultGOGC unless the GOGC variable is set. Profiles of
// the services under load put 4–7 % of each process's CPU in the collector with Go's default:
// their live heaps are a few MiB, so a collection came every few MiB allocated. At 400 that share
// is 1–3 %, for heaps a few MiB larger; GOMEMLIMIT, when set, still bounds them.
func TuneGC(getenv Getenv) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGOGC)
	}
}
