package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
)

// serve runs the relay until ctx is cancelled, then drains open answers for
// up to the shutdown timeout.
func serve(ctx context.Context, cfg config.Config, logw io.Writer) error {
	log := app.NewLogger(cfg, logw)
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	mode := "configured tokens"
	if cfg.Passthrough {
		mode = "passthrough"
	}
	log.Info("qwenrelay listening", "addr", addr, "base_url", "http://"+addr+"/v1", "upstream", cfg.UpstreamURL,
		"protocol", cfg.Protocol, "mode", mode, "tokens", len(cfg.QwenTokens), "version", version)
	if cfg.APIKey == "" && !cfg.Passthrough {
		log.Warn("QWENRELAY_API_KEY is not set: only clients on this machine (loopback) are accepted")
	}
	if cfg.ReadyFile != "" {
		if err := os.WriteFile(cfg.ReadyFile, []byte(addr), 0o644); err != nil {
			_ = ln.Close()
			return fmt.Errorf("ready file: %w", err)
		}
	}
	if cfg.PprofListen != "" {
		ps, err := startPprof(cfg.PprofListen, log)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer ps.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for open answers", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown timeout: closing remaining connections", "error", err)
		_ = hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// startPprof serves net/http/pprof on its own loopback listener.
func startPprof(addr string, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ps := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ps.Serve(ln) }()
	log.Info("pprof listening", "addr", ln.Addr().String())
	return ps, nil
}
