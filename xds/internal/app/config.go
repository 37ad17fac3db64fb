package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"mercato.dev/services/kit/config"
)

// Config is everything the control plane process needs. Flags override the environment.
type Config struct {
	ADSAddr          string        // -ads-addr, XDS_ADS_ADDR [127.0.0.1:18000]
	RegistrationAddr string        // -registration-addr, XDS_REGISTRATION_ADDR [127.0.0.1:18001]
	AdminAddr        string        // -admin-addr, XDS_ADMIN_ADDR [127.0.0.1:9100]
	RoutesFile       string        // -routes, XDS_ROUTES [edge/routes.yaml]
	DataDir          string        // MERCATO_DATA [.data]
	EdgeDataDir      string        // XDS_EDGE_DATA_DIR [DataDir]: base of relative paths in routes.yaml, as the edge sees it
	PublicAddr       string        // XDS_PUBLIC_ADDR [routes.yaml's listener.address]: where the edge binds
	CORSOrigins      []string      // XDS_CORS_ALLOW_ORIGINS (comma-separated) [none]: origins allowed besides routes.yaml's
	WorkloadAPI      string        // SPIFFE_ENDPOINT_SOCKET [unix://$MERCATO_DATA/spiffe/agent.sock]
	EndpointTTL      time.Duration // -endpoint-ttl, XDS_ENDPOINT_TTL [15s]
	RemovalGrace     time.Duration // -removal-grace, XDS_REMOVAL_GRACE [2s]: removed clusters outlive their routes this long
	// WarmUp delays ADS after start-up, so that services re-register (within one heartbeat
	// interval, TTL/3) before a restarted control plane sends EDS; 0 serves at once.
	WarmUp       time.Duration // -warm-up, XDS_WARMUP [TTL/3 + 1s]
	DrainTimeout time.Duration // DRAIN_TIMEOUT [20s]
	LogLevel     slog.Level    // LOG_LEVEL [info]
}

// LoadConfig reads the configuration from args (without the program name) and getenv.
func LoadConfig(args []string, getenv config.Getenv) (Config, error) {
	ttl, errTTL := config.Duration(getenv, "XDS_ENDPOINT_TTL", 15*time.Second)
	drain, errDrain := config.Duration(getenv, "DRAIN_TIMEOUT", 20*time.Second)
	grace, errGrace := config.Duration(getenv, "XDS_REMOVAL_GRACE", 2*time.Second)
	cfg := Config{
		DataDir: config.DataDir(getenv), WorkloadAPI: config.WorkloadAPI(getenv), DrainTimeout: drain,
		EdgeDataDir: getenv("XDS_EDGE_DATA_DIR"), PublicAddr: getenv("XDS_PUBLIC_ADDR"),
	}
	cfg.EdgeDataDir = config.Or(cfg.EdgeDataDir, cfg.DataDir)
	for o := range strings.SplitSeq(getenv("XDS_CORS_ALLOW_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	fs := flag.NewFlagSet("xds", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.ADSAddr, "ads-addr", config.Or(getenv("XDS_ADS_ADDR"), "127.0.0.1:18000"), "ADS (gRPC, mTLS) listen address")
	fs.StringVar(&cfg.RegistrationAddr, "registration-addr", config.Or(getenv("XDS_REGISTRATION_ADDR"), "127.0.0.1:18001"), "registration API (Connect, mTLS) listen address")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", config.Or(getenv("XDS_ADMIN_ADDR"), "127.0.0.1:9100"), "admin (health, metrics) listen address")
	fs.StringVar(&cfg.RoutesFile, "routes", config.Or(getenv("XDS_ROUTES"), "edge/routes.yaml"), "routes file")
	fs.DurationVar(&cfg.EndpointTTL, "endpoint-ttl", ttl, "how long an endpoint stays without a heartbeat")
	fs.DurationVar(&cfg.RemovalGrace, "removal-grace", grace, "how long removed clusters outlive the routes that used them")
	warmUp, errWarmUp := config.Duration(getenv, "XDS_WARMUP", -1)
	fs.DurationVar(&cfg.WarmUp, "warm-up", warmUp, "delay before serving ADS (default TTL/3 + 1s)")
	errs := []error{errTTL, errDrain, errGrace, errWarmUp}
	if err := fs.Parse(args); err != nil {
		errs = append(errs, err)
	}
	if cfg.WarmUp < 0 {
		cfg.WarmUp = cfg.EndpointTTL/3 + time.Second
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(config.Or(getenv("LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	return cfg, errors.Join(append(errs, cfg.Validate())...)
}

// Validate reports every inconsistent setting.
func (c Config) Validate() error {
	var errs []error
	for name, addr := range map[string]string{"ADS": c.ADSAddr, "registration": c.RegistrationAddr, "admin": c.AdminAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s address %q: %w", name, addr, err))
		}
	}
	if c.RoutesFile == "" {
		errs = append(errs, errors.New("routes file is required"))
	}
	if c.EndpointTTL < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("endpoint TTL %s is below 100ms", c.EndpointTTL))
	}
	return errors.Join(errs...)
}
