package main

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"mercato.dev/services/kit/config"

	"mercato.dev/services/customers/internal/password"
)

// settings are the customers service's own settings, on top of the kit's (address, database, …).
type settings struct {
	AdminEmail      string          // CUSTOMERS_ADMIN_EMAIL: admin account created at start-up if absent
	AdminPassword   string          // CUSTOMERS_ADMIN_PASSWORD: its password (8–128 characters)
	Argon2          password.Params // CUSTOMERS_ARGON2_MEMORY_KIB, _TIME, _THREADS
	HashConcurrency int             // CUSTOMERS_HASH_CONCURRENCY: password hashes at once [GOMAXPROCS]
	RotateKeysAfter time.Duration   // CUSTOMERS_KEY_ROTATE_AFTER: signing key lifetime, 0 never [720h]
	KeyRefresh      time.Duration   // CUSTOMERS_KEY_REFRESH: reload and maintain keys every [1m]
}

func loadSettings(getenv config.Getenv) (settings, error) {
	cfg := settings{
		AdminEmail:    getenv("CUSTOMERS_ADMIN_EMAIL"),
		AdminPassword: getenv("CUSTOMERS_ADMIN_PASSWORD"),
		Argon2:        password.ServerParams,
	}
	var errs []error
	num := func(name string, def, max uint64) uint64 {
		v, err := strconv.ParseUint(config.Or(getenv(name), strconv.FormatUint(def, 10)), 10, 64)
		if err != nil || v > max {
			errs = append(errs, fmt.Errorf("%s: want an integer up to %d", name, max))
		}
		return v
	}
	cfg.Argon2.Memory = uint32(num("CUSTOMERS_ARGON2_MEMORY_KIB", uint64(cfg.Argon2.Memory), 4<<20))
	cfg.Argon2.Time = uint32(num("CUSTOMERS_ARGON2_TIME", uint64(cfg.Argon2.Time), 100))
	cfg.Argon2.Threads = uint8(num("CUSTOMERS_ARGON2_THREADS", uint64(cfg.Argon2.Threads), 255))
	cfg.HashConcurrency = int(num("CUSTOMERS_HASH_CONCURRENCY", uint64(runtime.GOMAXPROCS(0)), 1024))
	var err error
	if cfg.RotateKeysAfter, err = config.Duration(getenv, "CUSTOMERS_KEY_ROTATE_AFTER", 720*time.Hour); err != nil {
		errs = append(errs, err)
	}
	if cfg.KeyRefresh, err = config.Duration(getenv, "CUSTOMERS_KEY_REFRESH", time.Minute); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, cfg.Validate())
	}
	return cfg, errors.Join(errs...)
}

// Validate reports settings that cannot work together.
func (c settings) Validate() error {
	var errs []error
	if err := c.Argon2.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.HashConcurrency < 1 {
		errs = append(errs, errors.New("CUSTOMERS_HASH_CONCURRENCY must be at least 1"))
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("set both CUSTOMERS_ADMIN_EMAIL and CUSTOMERS_ADMIN_PASSWORD, or neither"))
	}
	if c.AdminPassword != "" && (len(c.AdminPassword) < 8 || len(c.AdminPassword) > 128) {
		errs = append(errs, errors.New("CUSTOMERS_ADMIN_PASSWORD must be 8 to 128 characters"))
	}
	if c.RotateKeysAfter != 0 && c.RotateKeysAfter < time.Hour {
		errs = append(errs, errors.New("CUSTOMERS_KEY_ROTATE_AFTER must be 0 (never) or at least 1h"))
	}
	if c.KeyRefresh <= 0 || c.KeyRefresh > 5*time.Minute { // the keyring's publish delay assumes ≤ 5m
		errs = append(errs, errors.New("CUSTOMERS_KEY_REFRESH must be in (0, 5m]"))
	}
	return errors.Join(errs...)
}
