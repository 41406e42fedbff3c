package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/metrics"
	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/server"
)

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// upstreamClient is the one HTTP client for upstream calls: dial and TLS
// timeouts, but no overall timeout, so long answers live; the protocol
// package enforces first-byte and idle timeouts itself.
func upstreamClient(cfg config.Config) (*http.Client, error) {
	proxy := http.ProxyFromEnvironment
	if cfg.UpstreamProxy != "" {
		u, err := url.Parse(cfg.UpstreamProxy)
		if err != nil {
			return nil, fmt.Errorf("upstream_proxy: %w", err)
		}
		proxy = http.ProxyURL(u)
	}
	idle := max(100, cfg.MaxInFlight)
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr}, nil
}

func newProvider(cfg config.Config) (*qwen.Client, error) {
	hc, err := upstreamClient(cfg)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, err
	}
	h := qwen.DefaultHeaders()
	h.Location = loc
	if cfg.UserAgent != "" {
		h.UserAgent = cfg.UserAgent
	}
	if cfg.ClientVersion != "" {
		h.Version = cfg.ClientVersion
	}
	if cfg.BXVersion != "" {
		h.BXV = cfg.BXVersion
	}
	return qwen.New(qwen.Options{
		BaseURL:               cfg.UpstreamURL,
		Protocol:              cfg.Protocol,
		BodyStyle:             cfg.BodyStyle,
		ThinkingFormat:        cfg.ThinkingFormat,
		Headers:               h,
		HTTPClient:            hc,
		FirstByteTimeout:      cfg.FirstByteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		MaxBodyBytes:          cfg.UpstreamMaxBody,
		DefaultThinkingBudget: cfg.ThinkingBudget,
	})
}

// serve runs the relay until ctx is cancelled, then drains open answers for
// up to the shutdown timeout.
func serve(ctx context.Context, cfg config.Config, logw io.Writer) error {
	log := newLogger(cfg, logw)
	provider, err := newProvider(cfg)
	if err != nil {
		return err
	}
	m := metrics.New()
	rl := relay.New(provider, relay.Options{Attempts: cfg.RetryAttempts, Budget: cfg.RetryBudget, Backoff: cfg.RetryBackoff}, m, log)
	var picker relay.Picker
	if !cfg.Passthrough {
		picker = relay.NewStaticPicker(cfg.QwenTokens, nil)
	}
	srv := server.New(server.Options{
		APIKey: cfg.APIKey, Passthrough: cfg.Passthrough, MaxInFlight: cfg.MaxInFlight,
		MaxRequestBytes: cfg.MaxRequestBytes, HeartbeatInterval: cfg.HeartbeatInterval,
		ModelsTTL: cfg.ModelsTTL, CORSOrigins: cfg.CORSOrigins,
	}, rl, picker, m, log)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
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
