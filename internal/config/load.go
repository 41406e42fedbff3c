package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// setting binds one Config field to its env variable and flag.
type setting struct {
	name  string // flag name; env is QWENRELAY_ + upper(name with - → _)
	usage string
	set   func(c *Config, v string) error
}

func str(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func list(f func(c *Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = splitList(v); return nil }
}

func boolean(f func(c *Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*f(c) = b
		return nil
	}
}

func integer(f func(c *Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		*f(c) = n
		return nil
	}
}

func float(f func(c *Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", v)
		}
		*f(c) = n
		return nil
	}
}

func int64v(f func(c *Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		*f(c) = n
		return nil
	}
}

func duration(f func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration like 30s or 2m, got %q", v)
		}
		*f(c) = d
		return nil
	}
}

var settings = []setting{
	{"listen", "address to listen on (host:port)", str(func(c *Config) *string { return &c.Listen })},
	{"upstream-url", "Qwen Chat base URL", str(func(c *Config) *string { return &c.UpstreamURL })},
	{"api-key", "key clients must send as Bearer token (prefer the env variable)", str(func(c *Config) *string { return &c.APIKey })},
	{"qwen-tokens", "comma-separated Qwen tokens (prefer the env variable)", list(func(c *Config) *[]string { return &c.QwenTokens })},
	{"passthrough", "use each client's bearer token as its Qwen token", boolean(func(c *Config) *bool { return &c.Passthrough })},
	{"allow-unauthenticated", "allow a non-loopback listen address without any API key", boolean(func(c *Config) *bool { return &c.AllowUnauthenticated })},
	{"data-dir", "directory of the embedded database and master key", str(func(c *Config) *string { return &c.DataDir })},
	{"master-key", "key encrypting tokens at rest: 64 hex chars or base64 of 32 bytes (prefer the env variable)", str(func(c *Config) *string { return &c.MasterKey })},
	{"admin-key", "key of the admin API (empty = admin API off; prefer the env variable)", str(func(c *Config) *string { return &c.AdminKey })},
	{"admin-listen", "address of the admin API", str(func(c *Config) *string { return &c.AdminListen })},
	{"account-max-concurrent", "requests in flight per Qwen account", integer(func(c *Config) *int { return &c.AccountMaxConcurrent })},
	{"account-rate", "request starts per second on one account once its burst is used (0 = no pacing)", float(func(c *Config) *float64 { return &c.AccountRate })},
	{"account-burst", "request starts at once on one account before the rate applies", integer(func(c *Config) *int { return &c.AccountBurst })},
	{"account-min-interval", "deprecated: minimum time between any two starts on one account (replaces account-rate and account-burst; 0 = no pacing)", duration(func(c *Config) *time.Duration { return &c.AccountMinInterval })},
	{"acquire-timeout", "how long a request waits for a free account", duration(func(c *Config) *time.Duration { return &c.AcquireTimeout })},
	{"health-interval", "how often cooling accounts are checked", duration(func(c *Config) *time.Duration { return &c.HealthInterval })},
	{"check-quarantined", "deprecated name of quarantine-probe", boolean(func(c *Config) *bool { return &c.QuarantineProbe })},
	{"quarantine-probe", "re-probe quarantined (captcha, WAF) accounts by themselves", boolean(func(c *Config) *bool { return &c.QuarantineProbe })},
	{"quarantine-probe-first", "first re-probe of a quarantined account after the block", duration(func(c *Config) *time.Duration { return &c.QuarantineProbeFirst })},
	{"quarantine-probe-max", "longest gap between two re-probes (the gap doubles after each failure)", duration(func(c *Config) *time.Duration { return &c.QuarantineProbeMax })},
	{"refresh-before", "sign in again this long before a token expires (accounts with a password)", duration(func(c *Config) *time.Duration { return &c.RefreshBefore })},
	{"usage-retention", "how long usage rows are kept (0 = forever)", duration(func(c *Config) *time.Duration { return &c.UsageRetention })},
	{"protocol", "upstream protocol: v2 or legacy", str(func(c *Config) *string { return &c.Protocol })},
	{"body-style", "v2 request body style: browser or simple", str(func(c *Config) *string { return &c.BodyStyle })},
	{"thinking-format", "thinking format asked of the upstream: summary or detail", str(func(c *Config) *string { return &c.ThinkingFormat })},
	{"search-style", "how web search is asked of the upstream: chat_type or auto_search", str(func(c *Config) *string { return &c.SearchStyle })},
	{"responses-web-search", "a web_search tool on /v1/responses switches on the upstream's web search (false drops the tool)", boolean(func(c *Config) *bool { return &c.ResponsesWebSearch })},
	{"upload-sts-path", "STS token endpoint for attachment uploads: /api/v2/files/getstsToken or /api/v1/files/getstsToken", str(func(c *Config) *string { return &c.UploadSTSPath })},
	{"oss-signature", "signature of attachment uploads to OSS: v4 or v1", str(func(c *Config) *string { return &c.OSSSignature })},
	{"thinking-budget", "default thinking budget in tokens (0 = upstream default)", integer(func(c *Config) *int { return &c.ThinkingBudget })},
	{"user-agent", "User-Agent sent upstream (empty = built-in browser UA)", str(func(c *Config) *string { return &c.UserAgent })},
	{"client-version", "'version' header sent upstream (empty = built-in, 0.2.81)", str(func(c *Config) *string { return &c.ClientVersion })},
	{"bx-version", "'bx-v' header sent upstream (empty = not sent)", str(func(c *Config) *string { return &c.BXVersion })},
	{"token-transport", "how the Qwen token is sent: cookie, header or both", str(func(c *Config) *string { return &c.TokenTransport })},
	{"delete-chats", "delete each upstream chat after its answer (false keeps them in the account's history)", boolean(func(c *Config) *bool { return &c.DeleteChats })},
	{"chat-pool", "keep a few upstream chats created ahead of requests (needs delete-chats)", boolean(func(c *Config) *bool { return &c.ChatPool })},
	{"chat-pool-size", "ready chats per account and model", integer(func(c *Config) *int { return &c.ChatPoolSize })},
	{"chat-pool-total", "ready chats over all accounts", integer(func(c *Config) *int { return &c.ChatPoolTotal })},
	{"chat-pool-ttl", "unused ready chats older than this are deleted", duration(func(c *Config) *time.Duration { return &c.ChatPoolTTL })},
	{"timezone", "IANA time zone for the Timezone header", str(func(c *Config) *string { return &c.Timezone })},
	{"upstream-proxy", "outbound proxy for upstream calls (http://, socks5://)", str(func(c *Config) *string { return &c.UpstreamProxy })},
	{"upstream-h2c", "speak HTTP/2 without TLS to an http:// upstream (the emulator)", boolean(func(c *Config) *bool { return &c.UpstreamH2C })},
	{"connect-timeout", "upstream connect timeout", duration(func(c *Config) *time.Duration { return &c.ConnectTimeout })},
	{"first-byte-timeout", "max wait for the upstream's first frame (0 = none)", duration(func(c *Config) *time.Duration { return &c.FirstByteTimeout })},
	{"idle-timeout", "max upstream silence between frames (0 = none)", duration(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{"heartbeat-interval", "SSE comment sent to clients while the upstream is silent", duration(func(c *Config) *time.Duration { return &c.HeartbeatInterval })},
	{"retry-attempts", "upstream attempts per request before the first byte", integer(func(c *Config) *int { return &c.RetryAttempts })},
	{"retry-budget", "total time retries may take (0 = no limit)", duration(func(c *Config) *time.Duration { return &c.RetryBudget })},
	{"retry-backoff", "base backoff between attempts (jittered, doubled)", duration(func(c *Config) *time.Duration { return &c.RetryBackoff })},
	{"max-in-flight", "max requests in flight before answering 429", integer(func(c *Config) *int { return &c.MaxInFlight })},
	{"max-request-bytes", "max client request body size", int64v(func(c *Config) *int64 { return &c.MaxRequestBytes })},
	{"allow-private-media-urls", "let image/file URLs reach loopback, private and link-local addresses (LAN setups)", boolean(func(c *Config) *bool { return &c.AllowPrivateMediaURLs })},
	{"media-max-bytes", "max size of one image or file attachment", int64v(func(c *Config) *int64 { return &c.MediaMaxBytes })},
	{"media-fetch-timeout", "time limit for fetching one attachment URL", duration(func(c *Config) *time.Duration { return &c.MediaFetchTimeout })},
	{"upstream-max-body", "max upstream request body (the size wall); see context-strategy", integer(func(c *Config) *int { return &c.UpstreamMaxBody })},
	{"context-strategy", "a conversation over upstream-max-body: attach (older history in an uploaded document), truncate (oldest turns dropped) or refuse (413)", str(func(c *Config) *string { return &c.ContextStrategy })},
	{"models-ttl", "how long the model list is cached", duration(func(c *Config) *time.Duration { return &c.ModelsTTL })},
	{"model-aliases", "model names agents send mapped to Qwen models: alias=model,prefix*=model", str(func(c *Config) *string { return &c.ModelAliases })},
	{"responses-retention", "how long stored Responses API answers are kept (previous_response_id)", duration(func(c *Config) *time.Duration { return &c.ResponsesRetention })},
	{"video-poll-interval", "interval between two polls of an upstream video task", duration(func(c *Config) *time.Duration { return &c.VideoPollInterval })},
	{"video-max-duration", "how long a video job may take before it fails", duration(func(c *Config) *time.Duration { return &c.VideoMaxDuration })},
	{"video-concurrency", "video jobs worked on at once", integer(func(c *Config) *int { return &c.VideoConcurrency })},
	{"video-max-bytes", "largest video relayed by GET /v1/videos/{id}/content", int64v(func(c *Config) *int64 { return &c.VideoMaxBytes })},
	{"tool-retries", "times a required tool call is asked for again after a prose answer (0-5)", integer(func(c *Config) *int { return &c.ToolRetries })},
	{"cors-origins", "comma-separated allowed CORS origins (* = any, empty = CORS off)", list(func(c *Config) *[]string { return &c.CORSOrigins })},
	{"log-level", "debug, info, warn or error", str(func(c *Config) *string { return &c.LogLevel })},
	{"log-format", "json or text", str(func(c *Config) *string { return &c.LogFormat })},
	{"shutdown-timeout", "how long open streams may finish on shutdown", duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{"pprof-listen", "serve Go profiles (net/http/pprof) on this loopback address", str(func(c *Config) *string { return &c.PprofListen })},
	{"ready-file", "write the actual listen address to this file once listening", str(func(c *Config) *string { return &c.ReadyFile })},
}

// EnvName is the environment variable of a flag name.
func EnvName(flagName string) string {
	return "QWENRELAY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load builds the configuration from defaults, the YAML file named by
// --config or QWENRELAY_CONFIG, the environment (getenv) and args, and
// validates it.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := Default()
	fs := flag.NewFlagSet("qwenrelay serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("QWENRELAY_CONFIG"), "YAML config file (env QWENRELAY_CONFIG)")
	flagVals := map[string]*string{}
	for _, s := range settings {
		v := new(string)
		flagVals[s.name] = v
		fs.Func(s.name, s.usage+" (env "+EnvName(s.name)+")", func(x string) error { *v = x; return nil })
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	given := map[string]bool{} // every setting given by the file, env or flags
	if *configPath != "" {
		if err := loadFile(&cfg, *configPath, given); err != nil {
			return cfg, err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range settings {
		if v := getenv(EnvName(s.name)); v != "" {
			given[s.name] = true
			if err := s.set(&cfg, v); err != nil {
				return cfg, fmt.Errorf("%s: %w", EnvName(s.name), err)
			}
		}
	}
	for _, s := range settings {
		if set[s.name] {
			given[s.name] = true
			if err := s.set(&cfg, *flagVals[s.name]); err != nil {
				return cfg, fmt.Errorf("--%s: %w", s.name, err)
			}
		}
	}
	if err := cfg.resolvePacing(given); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// loadFile decodes the YAML file at path into cfg and adds the settings it
// gives to given (by flag name: account_rate is account-rate).
func loadFile(cfg *Config, path string, given map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	var keys map[string]yaml.Node
	if err := yaml.Unmarshal(b, &keys); err == nil { // the file decoded above: a mapping or empty
		for k := range keys {
			given[strings.ReplaceAll(k, "_", "-")] = true
		}
	}
	if cfg.CheckQuarantined != nil { // the deprecated name, unless the new one is there too
		var keys struct {
			QuarantineProbe *bool `yaml:"quarantine_probe"`
		}
		if err := yaml.Unmarshal(b, &keys); err == nil && keys.QuarantineProbe == nil {
			cfg.QuarantineProbe = *cfg.CheckQuarantined
		}
		cfg.CheckQuarantined = nil
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
