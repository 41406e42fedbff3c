// Package app wires qwenrelay's parts together from one Config. main and the
// end-to-end tests both build the relay through it, so tests run what ships.
package app

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/metrics"
	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/server"
)

// App is a built relay.
type App struct {
	Handler   http.Handler
	Metrics   *metrics.Metrics
	transport *http.Transport
}

// NewLogger builds the process logger from the config.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// New builds the relay described by cfg.
func New(cfg config.Config, log *slog.Logger) (*App, error) {
	tr, err := upstreamTransport(cfg)
	if err != nil {
		return nil, err
	}
	provider, err := newProvider(cfg, &http.Client{Transport: tr})
	if err != nil {
		return nil, err
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
	return &App{Handler: srv.Handler(), Metrics: m, transport: tr}, nil
}

// Close releases idle upstream connections.
func (a *App) Close() { a.transport.CloseIdleConnections() }

// upstreamTransport is the one transport for upstream calls: dial and TLS
// timeouts but no overall timeout, so long answers live; the protocol
// package enforces first-byte and idle timeouts itself.
func upstreamTransport(cfg config.Config) (*http.Transport, error) {
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
		// Answers are small frames: small buffers keep an open HTTP/1.1
		// stream cheap (larger reads bypass the buffer anyway).
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
	}
	if cfg.UpstreamH2C {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = p
	}
	return tr, nil
}

func newProvider(cfg config.Config, hc *http.Client) (*qwen.Client, error) {
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
