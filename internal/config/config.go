// Package config holds qwenrelay's one typed configuration: defaults, an
// optional YAML file, QWENRELAY_* environment variables and command-line
// flags, applied in that order, then validated before anything starts.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is every setting of the relay.
type Config struct {
	Listen      string `yaml:"listen"`
	UpstreamURL string `yaml:"upstream_url"`
	// APIKey is the key clients must send (Authorization: Bearer). Empty:
	// only loopback clients are accepted.
	APIKey string `yaml:"api_key"`
	// QwenTokens are the upstream tokens requests are served with.
	QwenTokens []string `yaml:"qwen_tokens"`
	// Passthrough uses the client's bearer token as the Qwen token.
	Passthrough bool `yaml:"passthrough"`

	// AllowUnauthenticated lets the relay listen on a non-loopback address
	// with no API key (anyone who can reach it can use the accounts).
	AllowUnauthenticated bool `yaml:"allow_unauthenticated"`

	// DataDir holds the embedded database and the master key file.
	DataDir string `yaml:"data_dir"`
	// MasterKey encrypts Qwen tokens and passwords at rest (64 hex chars or
	// base64 of 32 bytes); empty = DataDir/master.key, created on first run.
	MasterKey string `yaml:"master_key"`
	// AdminKey guards the admin API; empty = admin API off.
	AdminKey    string `yaml:"admin_key"`
	AdminListen string `yaml:"admin_listen"`

	AccountMaxConcurrent int           `yaml:"account_max_concurrent"`
	AccountMinInterval   time.Duration `yaml:"account_min_interval"`
	AcquireTimeout       time.Duration `yaml:"acquire_timeout"`
	HealthInterval       time.Duration `yaml:"health_interval"`
	CheckQuarantined     bool          `yaml:"check_quarantined"`
	RefreshBefore        time.Duration `yaml:"refresh_before"`
	UsageRetention       time.Duration `yaml:"usage_retention"`

	Protocol       string `yaml:"protocol"`        // v2 | legacy
	BodyStyle      string `yaml:"body_style"`      // browser | simple
	ThinkingFormat string `yaml:"thinking_format"` // summary | detail
	ThinkingBudget int    `yaml:"thinking_budget"` // default budget sent when thinking; 0 = upstream default

	UserAgent     string `yaml:"user_agent"`
	ClientVersion string `yaml:"client_version"` // the "version" header
	BXVersion     string `yaml:"bx_version"`     // the "bx-v" header; empty = not sent
	// TokenTransport is how the Qwen token is sent: cookie (Cookie:
	// token=…, what the browser does since 2026-07), header (Authorization:
	// Bearer) or both.
	TokenTransport string `yaml:"token_transport"`
	// DeleteChats deletes each upstream chat after its answer, so chats do
	// not pile up in the account's Qwen history; false keeps them.
	DeleteChats bool `yaml:"delete_chats"`
	// ChatPool keeps a few chats created ahead of the requests, so an answer
	// does not wait for chats/new (docs/qwen-protocol.md §11.9). It needs
	// delete_chats: unused chats are deleted at ChatPoolTTL and on shutdown.
	ChatPool      bool          `yaml:"chat_pool"`
	ChatPoolSize  int           `yaml:"chat_pool_size"`  // ready chats per account (and model)
	ChatPoolTotal int           `yaml:"chat_pool_total"` // ready chats over all accounts
	ChatPoolTTL   time.Duration `yaml:"chat_pool_ttl"`   // unused chats older than this are deleted
	Timezone      string        `yaml:"timezone"`        // IANA name for the Timezone header
	UpstreamProxy string        `yaml:"upstream_proxy"`  // http://, https:// or socks5:// proxy for upstream calls
	// UpstreamH2C speaks HTTP/2 without TLS to an http:// upstream (the
	// emulator). https upstreams negotiate HTTP/2 by themselves.
	UpstreamH2C bool `yaml:"upstream_h2c"`

	ConnectTimeout    time.Duration `yaml:"connect_timeout"`
	FirstByteTimeout  time.Duration `yaml:"first_byte_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`

	RetryAttempts int           `yaml:"retry_attempts"`
	RetryBudget   time.Duration `yaml:"retry_budget"`
	RetryBackoff  time.Duration `yaml:"retry_backoff"`

	MaxInFlight     int           `yaml:"max_in_flight"`
	MaxRequestBytes int64         `yaml:"max_request_bytes"`
	UpstreamMaxBody int           `yaml:"upstream_max_body"`
	ModelsTTL       time.Duration `yaml:"models_ttl"`
	CORSOrigins     []string      `yaml:"cors_origins"`

	LogLevel        string        `yaml:"log_level"`  // debug | info | warn | error
	LogFormat       string        `yaml:"log_format"` // json | text
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// PprofListen, when set, serves net/http/pprof on this loopback address.
	PprofListen string `yaml:"pprof_listen"`

	// ReadyFile, when set, receives the actual listen address once the
	// server listens (useful with port 0). Flag/env only.
	ReadyFile string `yaml:"-"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:               "127.0.0.1:8080",
		DataDir:              "./data",
		AdminListen:          "127.0.0.1:8081",
		AccountMaxConcurrent: 2,
		AccountMinInterval:   time.Second,
		AcquireTimeout:       30 * time.Second,
		HealthInterval:       10 * time.Minute,
		RefreshBefore:        24 * time.Hour,
		UsageRetention:       90 * 24 * time.Hour,
		UpstreamURL:          "https://chat.qwen.ai",
		Protocol:             "v2",
		BodyStyle:            "browser",
		ThinkingFormat:       "summary",
		TokenTransport:       "cookie",
		DeleteChats:          true,
		ChatPool:             true,
		ChatPoolSize:         2,
		ChatPoolTotal:        32,
		ChatPoolTTL:          2 * time.Minute,
		Timezone:             "Asia/Shanghai",
		ConnectTimeout:       10 * time.Second,
		FirstByteTimeout:     30 * time.Second,
		IdleTimeout:          120 * time.Second,
		HeartbeatInterval:    15 * time.Second,
		RetryAttempts:        3,
		RetryBudget:          60 * time.Second,
		RetryBackoff:         300 * time.Millisecond,
		MaxInFlight:          100,
		MaxRequestBytes:      8 << 20,
		UpstreamMaxBody:      128000,
		ModelsTTL:            time.Hour,
		CORSOrigins:          []string{"*"},
		LogLevel:             "info",
		LogFormat:            "json",
		ShutdownTimeout:      30 * time.Second,
	}
}

// Validate reports every problem at once, so an operator fixes them in one go.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: want host:port (%v)", c.Listen, err)
	}
	if u, err := url.Parse(c.UpstreamURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("upstream_url %q: want an http(s) URL", c.UpstreamURL)
	}
	if c.UpstreamProxy != "" {
		if u, err := url.Parse(c.UpstreamProxy); err != nil || u.Host == "" ||
			(u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5" && u.Scheme != "socks5h") {
			bad("upstream_proxy: want an http://, https:// or socks5:// URL")
		}
	}
	if c.PprofListen != "" && !(&Config{Listen: c.PprofListen}).ListenIsLoopback() {
		bad("pprof_listen %q: must be a loopback address (profiles expose internals)", c.PprofListen)
	}
	oneOf(&errs, "protocol", c.Protocol, "v2", "legacy")
	oneOf(&errs, "body_style", c.BodyStyle, "browser", "simple")
	oneOf(&errs, "thinking_format", c.ThinkingFormat, "summary", "detail")
	oneOf(&errs, "token_transport", c.TokenTransport, "cookie", "header", "both")
	oneOf(&errs, "log_level", c.LogLevel, "debug", "info", "warn", "error")
	oneOf(&errs, "log_format", c.LogFormat, "json", "text")
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		bad("timezone %q: %v", c.Timezone, err)
	}
	if c.DataDir == "" {
		bad("data_dir must be set")
	}
	if c.AdminKey != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			bad("admin_listen %q: want host:port (%v)", c.AdminListen, err)
		}
	}
	if !c.Passthrough && c.APIKey == "" && !c.ListenIsLoopback() && !c.AllowUnauthenticated {
		bad("listen %q is reachable from other machines but no way to authenticate callers is set: set QWENRELAY_API_KEY (and create client keys), listen on 127.0.0.1, or opt in with QWENRELAY_ALLOW_UNAUTHENTICATED=true", c.Listen)
	}
	if c.Passthrough && c.APIKey != "" {
		bad("api_key cannot be combined with passthrough: in passthrough mode the client's Bearer token is its own Qwen token")
	}
	for i, t := range c.QwenTokens {
		if strings.TrimSpace(t) == "" {
			bad("qwen_tokens[%d] is empty", i)
		}
	}
	positive := []struct {
		name string
		v    int64
	}{
		{"retry_attempts", int64(c.RetryAttempts)},
		{"max_in_flight", int64(c.MaxInFlight)},
		{"max_request_bytes", c.MaxRequestBytes},
		{"upstream_max_body", int64(c.UpstreamMaxBody)},
		{"connect_timeout", int64(c.ConnectTimeout)},
		{"heartbeat_interval", int64(c.HeartbeatInterval)},
		{"models_ttl", int64(c.ModelsTTL)},
		{"shutdown_timeout", int64(c.ShutdownTimeout)},
		{"account_max_concurrent", int64(c.AccountMaxConcurrent)},
		{"acquire_timeout", int64(c.AcquireTimeout)},
		{"health_interval", int64(c.HealthInterval)},
		{"chat_pool_size", int64(c.ChatPoolSize)},
		{"chat_pool_total", int64(c.ChatPoolTotal)},
		{"chat_pool_ttl", int64(c.ChatPoolTTL)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad("%s must be > 0", p.name)
		}
	}
	for _, p := range []struct {
		name string
		v    time.Duration
	}{{"first_byte_timeout", c.FirstByteTimeout}, {"idle_timeout", c.IdleTimeout}, {"retry_budget", c.RetryBudget}, {"retry_backoff", c.RetryBackoff},
		{"account_min_interval", c.AccountMinInterval}, {"refresh_before", c.RefreshBefore}, {"usage_retention", c.UsageRetention}} {
		if p.v < 0 {
			bad("%s must be >= 0 (0 disables it)", p.name)
		}
	}
	if c.ThinkingBudget < 0 {
		bad("thinking_budget must be >= 0")
	}
	return errors.Join(errs...)
}

func oneOf(errs *[]error, name, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	*errs = append(*errs, fmt.Errorf("%s %q: want one of %s", name, v, strings.Join(allowed, ", ")))
}

// ListenIsLoopback reports whether the listen address only accepts local
// connections.
func (c *Config) ListenIsLoopback() bool {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
