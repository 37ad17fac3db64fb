package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"mercato.dev/certs/issuer"
)

// options is the command line and environment, read once in main.
type options struct {
	dataDir       string
	socketPath    string
	registrations string
	rootDir       string
	trustDomain   spiffeid.TrustDomain
	svidTTL       time.Duration
	caTTL         time.Duration
	logFormat     string
}

// parseOptions reads flags from args and MERCATO_DATA and
// SPIFFE_ENDPOINT_SOCKET from getenv.
func parseOptions(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("spiffe-issuer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	var td string
	fs.StringVar(&o.registrations, "registrations", "certs/registrations.yaml", "registration entries file")
	fs.StringVar(&o.rootDir, "root", ".", "directory relative unix:path selectors resolve against (the repository root)")
	fs.StringVar(&td, "trust-domain", "mercato.local", "trust domain")
	fs.DurationVar(&o.svidTTL, "svid-ttl", issuer.DefaultSVIDTTL, "X.509-SVID lifetime")
	fs.DurationVar(&o.caTTL, "ca-ttl", issuer.DefaultCATTL, "CA lifetime (it rotates at two thirds)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return options{}, fmt.Errorf("%w\nflags:\n%s", err, usage(fs))
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.trustDomain, err = spiffeid.TrustDomainFromString(td); err != nil {
		return options{}, fmt.Errorf("--trust-domain: %w", err)
	}
	return o.withEnv(getenv)
}

// withEnv fills the data dir and socket from the environment.
func (o options) withEnv(getenv func(string) string) (options, error) {
	o.dataDir = getenv("MERCATO_DATA")
	if o.dataDir == "" {
		o.dataDir = ".data"
	}
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return options{}, fmt.Errorf("MERCATO_DATA: %w", err)
	}
	o.dataDir = dataDir
	o.socketPath = filepath.Join(o.dataDir, "spiffe", "agent.sock")
	if addr := getenv("SPIFFE_ENDPOINT_SOCKET"); addr != "" {
		if o.socketPath, err = socketPathFromAddr(addr); err != nil {
			return options{}, fmt.Errorf("SPIFFE_ENDPOINT_SOCKET: %w", err)
		}
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return options{}, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	return o, nil
}

// socketPathFromAddr accepts unix:///absolute/path, the form go-spiffe
// clients accept too.
func socketPathFromAddr(addr string) (string, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme != "unix":
		return "", fmt.Errorf("%q: want unix:///absolute/path", addr)
	case u.Host != "" || u.Opaque != "" || !filepath.IsAbs(u.Path):
		return "", fmt.Errorf("%q: want an absolute path, as in unix:///absolute/path", addr)
	}
	return u.Path, nil
}

// config builds the issuer's configuration, loading the registrations.
func (o options) config(logger *slog.Logger) (issuer.Config, error) {
	entries, err := issuer.LoadEntries(o.registrations)
	if err != nil {
		return issuer.Config{}, err
	}
	cfg := issuer.Config{
		TrustDomain: o.trustDomain,
		SocketPath:  o.socketPath,
		StateDir:    filepath.Join(o.dataDir, "spiffe", "ca"),
		RootDir:     o.rootDir,
		SVIDTTL:     o.svidTTL,
		CATTL:       o.caTTL,
		Entries:     entries,
		Logger:      logger,
	}
	return cfg, cfg.Validate()
}

func usage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}
