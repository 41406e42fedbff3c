package app

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwen"
)

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

// NewUpstream builds the protocol client with its own transport, for tools
// (the CLI) that need to talk to the upstream outside a running relay.
func NewUpstream(cfg config.Config) (*qwen.Client, *http.Transport, error) {
	tr, err := upstreamTransport(cfg)
	if err != nil {
		return nil, nil, err
	}
	c, err := NewProvider(cfg, &http.Client{Transport: tr}, nil)
	return c, tr, err
}

// NewProvider builds the Qwen protocol client from the config; log (nil:
// discarded) receives the chat clean-up's warnings. With delete_chats on,
// call the client's Close on shutdown so pending deletions finish.
func NewProvider(cfg config.Config, hc *http.Client, log *slog.Logger) (*qwen.Client, error) {
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
		SearchStyle:           cfg.SearchStyle,
		Headers:               h,
		HTTPClient:            hc,
		FirstByteTimeout:      cfg.FirstByteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		MaxBodyBytes:          cfg.UpstreamMaxBody,
		ContextStrategy:       cfg.ContextStrategy,
		DefaultThinkingBudget: cfg.ThinkingBudget,
		TokenTransport:        cfg.TokenTransport,
		DeleteChats:           cfg.DeleteChats,
		ChatPool: qwen.ChatPoolOptions{
			Enabled: cfg.ChatPool, PerCredential: cfg.ChatPoolSize, Total: cfg.ChatPoolTotal, TTL: cfg.ChatPoolTTL,
		},
		Upload: qwen.UploadOptions{STSPath: cfg.UploadSTSPath, Signature: cfg.OSSSignature},
		Logger: log,
	})
}
