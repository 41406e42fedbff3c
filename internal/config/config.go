// Package config holds qwenrelay's one typed configuration: defaults, an
// optional YAML file, QWENRELAY_* environment variables and command-line
// flags, applied in that order, then validated before anything starts.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/catalog"
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

	AccountMaxConcurrent int `yaml:"account_max_concurrent"`
	// AccountRate and AccountBurst pace request starts on one account: a
	// token bucket of AccountBurst starts refilled at AccountRate per
	// second (0 = no pacing). A start on an idle account never waits.
	AccountRate  float64 `yaml:"account_rate"`
	AccountBurst int     `yaml:"account_burst"`
	// AccountMinInterval is deprecated: when > 0 it replaces AccountRate
	// and AccountBurst with a minimum time between any two starts on one
	// account (rate 1/interval, burst 1, idle accounts too). Setting it to
	// 0 in the file, env or flags keeps its old meaning: no pacing.
	AccountMinInterval time.Duration `yaml:"account_min_interval"`
	AcquireTimeout     time.Duration `yaml:"acquire_timeout"`
	HealthInterval     time.Duration `yaml:"health_interval"`
	RefreshBefore      time.Duration `yaml:"refresh_before"`
	UsageRetention     time.Duration `yaml:"usage_retention"`

	// QuarantineProbe re-probes quarantined accounts (captcha, WAF) by
	// themselves: first QuarantineProbeFirst after the block, then twice
	// the previous gap after each failure, up to QuarantineProbeMax.
	QuarantineProbe      bool          `yaml:"quarantine_probe"`
	QuarantineProbeFirst time.Duration `yaml:"quarantine_probe_first"`
	QuarantineProbeMax   time.Duration `yaml:"quarantine_probe_max"`
	// CheckQuarantined is the deprecated name of QuarantineProbe (it was
	// an opt-in, off by default); when given, it sets QuarantineProbe
	// unless quarantine_probe is given too.
	CheckQuarantined *bool `yaml:"check_quarantined"`

	Protocol       string `yaml:"protocol"`        // v2 | legacy
	BodyStyle      string `yaml:"body_style"`      // browser | simple
	ThinkingFormat string `yaml:"thinking_format"` // summary | detail
	SearchStyle    string `yaml:"search_style"`    // chat_type | auto_search
	// ResponsesWebSearch: a web_search tool declared on /v1/responses
	// switches on the upstream's search mode (false: it is dropped, as
	// for agents that declare it on every request).
	ResponsesWebSearch bool `yaml:"responses_web_search"`
	// UploadSTSPath is the STS token endpoint of the upload path
	// (/api/v2/files/getstsToken or /api/v1/files/getstsToken).
	UploadSTSPath string `yaml:"upload_sts_path"`
	// OSSSignature signs attachment uploads: v4 (default) or v1.
	OSSSignature   string `yaml:"oss_signature"`
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

	MaxInFlight     int   `yaml:"max_in_flight"`
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// AllowPrivateMediaURLs lets image/file URLs reach loopback, private
	// and link-local addresses (LAN setups); off by default (SSRF rule).
	AllowPrivateMediaURLs bool `yaml:"allow_private_media_urls"`
	// MediaMaxBytes caps one fetched or decoded attachment.
	MediaMaxBytes int64 `yaml:"media_max_bytes"`
	// MediaFetchTimeout bounds fetching one attachment URL.
	MediaFetchTimeout time.Duration `yaml:"media_fetch_timeout"`
	UpstreamMaxBody   int           `yaml:"upstream_max_body"`
	// ContextStrategy is what a conversation over upstream_max_body becomes:
	// attach (the older history goes into an uploaded document), truncate
	// (oldest turns dropped) or refuse (413).
	ContextStrategy string        `yaml:"context_strategy"`
	ModelsTTL       time.Duration `yaml:"models_ttl"`
	// ModelAliases maps the model names agents send to Qwen models:
	// "alias=model,prefix*=model" (exact aliases win over prefixes).
	ModelAliases string `yaml:"model_aliases"`
	// ToolRetries: how many times a required tool call is asked for again
	// when the model answered in prose.
	ToolRetries int `yaml:"tool_retries"`
	// ResponsesRetention: how long stored Responses API answers are kept
	// (previous_response_id, GET /v1/responses/{id}).
	ResponsesRetention time.Duration `yaml:"responses_retention"`
	// Video jobs (POST /v1/videos): the interval between two polls of an
	// upstream task, the time a job may take, how many run at once, and the
	// largest video relayed by GET /v1/videos/{id}/content.
	VideoPollInterval time.Duration `yaml:"video_poll_interval"`
	VideoMaxDuration  time.Duration `yaml:"video_max_duration"`
	VideoConcurrency  int           `yaml:"video_concurrency"`
	VideoMaxBytes     int64         `yaml:"video_max_bytes"`
	CORSOrigins       []string      `yaml:"cors_origins"`

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
		AccountRate:          1,
		AccountBurst:         3,
		AcquireTimeout:       30 * time.Second,
		HealthInterval:       10 * time.Minute,
		QuarantineProbe:      true,
		QuarantineProbeFirst: 10 * time.Minute,
		QuarantineProbeMax:   6 * time.Hour,
		RefreshBefore:        24 * time.Hour,
		UsageRetention:       90 * 24 * time.Hour,
		UpstreamURL:          "https://chat.qwen.ai",
		Protocol:             "v2",
		BodyStyle:            "browser",
		ThinkingFormat:       "summary",
		SearchStyle:          "chat_type",
		ResponsesWebSearch:   true,
		UploadSTSPath:        "/api/v2/files/getstsToken",
		OSSSignature:         "v4",
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
		MaxRequestBytes:      32 << 20, // a few base64 images fit
		MediaMaxBytes:        20 << 20,
		MediaFetchTimeout:    30 * time.Second,
		UpstreamMaxBody:      128000,
		ContextStrategy:      "attach",
		ModelsTTL:            time.Hour,
		ToolRetries:          1,
		ResponsesRetention:   30 * 24 * time.Hour,
		VideoPollInterval:    20 * time.Second, // docs/qwen-protocol.md §6.5
		VideoMaxDuration:     30 * time.Minute,
		VideoConcurrency:     4,
		VideoMaxBytes:        512 << 20,
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
	oneOf(&errs, "search_style", c.SearchStyle, "chat_type", "auto_search")
	oneOf(&errs, "oss_signature", c.OSSSignature, "v4", "v1")
	oneOf(&errs, "context_strategy", c.ContextStrategy, "attach", "truncate", "refuse")
	oneOf(&errs, "upload_sts_path", c.UploadSTSPath, "/api/v2/files/getstsToken", "/api/v1/files/getstsToken")
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
		if err := CheckQwenToken(t); err != nil {
			bad("QWENRELAY_QWEN_TOKENS (qwen_tokens) token #%d %v; copy the value of \"token\" from chat.qwen.ai's Local Storage (a placeholder such as eyJhbGciOi... will not do)", i+1, err)
		}
	}
	if c.QuarantineProbe && (c.QuarantineProbeFirst <= 0 || c.QuarantineProbeMax < c.QuarantineProbeFirst) {
		bad("quarantine_probe_first must be > 0 and quarantine_probe_max at least as long")
	}
	positive := []struct {
		name string
		v    int64
	}{
		{"retry_attempts", int64(c.RetryAttempts)},
		{"max_in_flight", int64(c.MaxInFlight)},
		{"max_request_bytes", c.MaxRequestBytes},
		{"media_max_bytes", c.MediaMaxBytes},
		{"media_fetch_timeout", int64(c.MediaFetchTimeout)},
		{"upstream_max_body", int64(c.UpstreamMaxBody)},
		{"connect_timeout", int64(c.ConnectTimeout)},
		{"heartbeat_interval", int64(c.HeartbeatInterval)},
		{"models_ttl", int64(c.ModelsTTL)},
		{"responses_retention", int64(c.ResponsesRetention)},
		{"video_poll_interval", int64(c.VideoPollInterval)},
		{"video_max_duration", int64(c.VideoMaxDuration)},
		{"video_concurrency", int64(c.VideoConcurrency)},
		{"video_max_bytes", c.VideoMaxBytes},
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
	if _, err := catalog.ParseAliases(c.ModelAliases); err != nil {
		bad("model_aliases: %v", err)
	}
	if c.ToolRetries < 0 || c.ToolRetries > 5 {
		bad("tool_retries must be between 0 and 5")
	}
	if c.ThinkingBudget < 0 {
		bad("thinking_budget must be >= 0")
	}
	errs = append(errs, c.pacingErrors()...)
	return errors.Join(errs...)
}

// Bounds of the pacing settings (the pool's bucket arithmetic stays far
// from overflow within them).
const (
	minAccountRate  = 1.0 / 86400 // one start a day
	maxAccountBurst = 10000
)

// pacingErrors checks account_rate and account_burst.
func (c *Config) pacingErrors() []error {
	var errs []error
	switch r := c.AccountRate; {
	case math.IsNaN(r) || math.IsInf(r, 0) || r < 0:
		errs = append(errs, fmt.Errorf("account_rate must be a number of starts per second >= 0 (0 = no pacing), got %v", r))
	case r > 0 && r < minAccountRate:
		errs = append(errs, fmt.Errorf("account_rate %v is below one start a day (%.7f); 0 turns pacing off", r, minAccountRate))
	}
	if c.AccountBurst < 1 || c.AccountBurst > maxAccountBurst {
		errs = append(errs, fmt.Errorf("account_burst must be between 1 and %d, got %d", maxAccountBurst, c.AccountBurst))
	}
	return errs
}

// resolvePacing applies the deprecated account_min_interval when it was
// set (set holds the flag names of the settings given in the file, the
// environment or the flags): it cannot be combined with the settings that
// replace it, and 0 keeps its old meaning, no pacing.
func (c *Config) resolvePacing(set map[string]bool) error {
	if !set["account-min-interval"] {
		return nil
	}
	if set["account-rate"] || set["account-burst"] {
		return errors.New("account_min_interval is deprecated and cannot be combined with account_rate or account_burst: " +
			"remove it (its meaning was account_rate: 1/interval with account_burst: 1)")
	}
	if c.AccountMinInterval == 0 {
		c.AccountRate = 0
	}
	return nil
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
