package issuer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Defaults applied to zero Config fields.
const (
	DefaultSVIDTTL = time.Hour
	DefaultCATTL   = 7 * 24 * time.Hour
)

// Limits checked by Config.Validate.
const (
	// maxSocketPath is the longest path a unix socket address holds on Linux.
	maxSocketPath = 107
	// minSVIDTTL is the shortest SVID lifetime: certificates count seconds.
	minSVIDTTL = time.Second
	// caTTLFactor is how many SVID lifetimes a CA must outlive, so that a
	// rotation at two thirds of its life (publish, wait one SVID lifetime,
	// sign, let the last old SVID expire) ends before the old CA expires.
	caTTLFactor = 6
)

// Config configures an Issuer. Zero durations take the defaults above.
type Config struct {
	TrustDomain spiffeid.TrustDomain // mercato.local
	SocketPath  string               // unix socket to listen on (parent created 0755; a stale socket is removed)
	StateDir    string               // CA persisted here; "" = in memory
	RootDir     string               // relative unix:path selectors resolve against it
	SVIDTTL     time.Duration        // default 1h
	CATTL       time.Duration        // default 7*24h
	Entries     []Entry
	Logger      *slog.Logger // nil = discard
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.TrustDomain.IsZero() {
		errs = append(errs, errors.New("trust domain is required"))
	}
	errs = append(errs, c.validateSocket(), c.validateTTLs())
	if c.RootDir == "" {
		errs = append(errs, errors.New("root dir is required (relative unix:path selectors resolve against it)"))
	}
	for _, e := range c.Entries {
		errs = append(errs, c.validateEntry(e))
	}
	return errors.Join(errs...)
}

func (c Config) validateSocket() error {
	switch {
	case c.SocketPath == "":
		return errors.New("socket path is required")
	case len(c.SocketPath) > maxSocketPath:
		return fmt.Errorf("socket path %q is %d bytes; unix sockets allow at most %d", c.SocketPath, len(c.SocketPath), maxSocketPath)
	}
	return nil
}

func (c Config) validateTTLs() error {
	d := c.withDefaults()
	switch {
	case c.SVIDTTL < 0 || c.CATTL < 0:
		return errors.New("TTLs must not be negative")
	case d.SVIDTTL < minSVIDTTL:
		return fmt.Errorf("SVID TTL %s is below %s", d.SVIDTTL, minSVIDTTL)
	case d.CATTL < caTTLFactor*d.SVIDTTL:
		return fmt.Errorf("CA TTL %s must be at least %d times the SVID TTL %s", d.CATTL, caTTLFactor, d.SVIDTTL)
	}
	return nil
}

func (c Config) validateEntry(e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if !c.TrustDomain.IsZero() && !e.ID.MemberOf(c.TrustDomain) {
		return fmt.Errorf("%s is not in trust domain %s", e.ID, c.TrustDomain)
	}
	return nil
}

// withDefaults fills in zero fields.
func (c Config) withDefaults() Config {
	if c.SVIDTTL == 0 {
		c.SVIDTTL = DefaultSVIDTTL
	}
	if c.CATTL == 0 {
		c.CATTL = DefaultCATTL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
