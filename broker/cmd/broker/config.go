package main

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"

	"mercato.dev/services/kit/config"
)

// Local defaults (ARCHITECTURE "Local defaults"; the admin port follows the services' 910x).
const (
	defaultAddr      = "127.0.0.1:4333"
	defaultAdminAddr = "127.0.0.1:9106"
)

// settings is the broker's configuration.
type settings struct {
	Host        string // client listener
	Port        int
	AdminAddr   string
	DebugAddr   string // BROKER_DEBUG_ADDR: loopback pprof listener, off by default
	StoreDir    string
	WorkloadAPI string
	LogLevel    slog.Level
}

func loadConfig(getenv config.Getenv) (settings, error) {
	addr := config.Or(getenv("BROKER_ADDR"), defaultAddr)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return settings{}, fmt.Errorf("BROKER_ADDR: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return settings{}, fmt.Errorf("BROKER_ADDR: bad port %q", port)
	}
	s := settings{
		Host:        host,
		Port:        p,
		AdminAddr:   config.Or(getenv("BROKER_ADMIN_ADDR"), defaultAdminAddr),
		DebugAddr:   getenv("BROKER_DEBUG_ADDR"),
		StoreDir:    config.Or(getenv("BROKER_STORE_DIR"), filepath.Join(config.DataDir(getenv), "nats")),
		WorkloadAPI: config.WorkloadAPI(getenv),
	}
	if err := s.LogLevel.UnmarshalText([]byte(config.Or(getenv("LOG_LEVEL"), "info"))); err != nil {
		return settings{}, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if err := config.CheckLoopback(s.DebugAddr); err != nil {
		return settings{}, fmt.Errorf("BROKER_DEBUG_ADDR: %w", err)
	}
	if host == "" {
		s.Host = "0.0.0.0"
	}
	return s, nil
}
