package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"time"
)

// toolOverrides are the settings every operator tool also takes as a flag.
var toolOverrides = []string{"data-dir", "upstream-url"}

// ToolFlags registers the flags every operator tool (the accounts, keys and
// usage commands) accepts on fs: --config, --data-dir and --upstream-url.
// After fs.Parse, the returned function loads the configuration the way
// serve does (defaults < YAML file < QWENRELAY_* env < these flags) but
// validates only what the tools use, so a serve-only setting (a public
// listen address without an API key, say) does not stop an operator.
func ToolFlags(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	configPath := fs.String("config", getenv("QWENRELAY_CONFIG"), "YAML config file (env QWENRELAY_CONFIG)")
	set := map[string]*string{}
	for _, name := range toolOverrides {
		s := lookupSetting(name)
		set[name] = nil
		fs.Func(name, s.usage+" (env "+EnvName(name)+")", func(v string) error {
			set[name] = &v
			return nil
		})
	}
	return func() (Config, error) {
		over := map[string]string{}
		for name, v := range set {
			if v != nil {
				over[name] = *v
			}
		}
		return LoadTool(*configPath, getenv, over)
	}
}

// LoadTool builds the configuration of an operator tool: defaults, the YAML
// file at path (if any), the environment, then overrides (by flag name),
// validated with ValidateTool.
func LoadTool(path string, getenv func(string) string, overrides map[string]string) (Config, error) {
	cfg := Default()
	given := map[string]bool{}
	if path != "" {
		if err := loadFile(&cfg, path, given); err != nil {
			return cfg, err
		}
	}
	for _, s := range settings {
		if v := getenv(EnvName(s.name)); v != "" {
			given[s.name] = true
			if err := s.set(&cfg, v); err != nil {
				return cfg, fmt.Errorf("%s: %w", EnvName(s.name), err)
			}
		}
	}
	for _, s := range settings {
		if v, ok := overrides[s.name]; ok {
			given[s.name] = true
			if err := s.set(&cfg, v); err != nil {
				return cfg, fmt.Errorf("--%s: %w", s.name, err)
			}
		}
	}
	if err := cfg.resolvePacing(given); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if err := cfg.ValidateTool(); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// ValidateTool checks the settings the operator tools use: the data
// directory, the upstream (URL, proxy, timeouts, protocol options) and the
// account pool options. Listen addresses, client authentication, limits of
// the public API and logging are serve's business and are not checked.
func (c *Config) ValidateTool() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		bad("data_dir must be set")
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
	oneOf(&errs, "protocol", c.Protocol, "v2", "legacy")
	oneOf(&errs, "body_style", c.BodyStyle, "browser", "simple")
	oneOf(&errs, "thinking_format", c.ThinkingFormat, "summary", "detail")
	oneOf(&errs, "search_style", c.SearchStyle, "chat_type", "auto_search")
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		bad("timezone %q: %v", c.Timezone, err)
	}
	if c.ThinkingBudget < 0 {
		bad("thinking_budget must be >= 0")
	}
	for _, p := range []struct {
		name string
		v    int64
	}{
		{"connect_timeout", int64(c.ConnectTimeout)},
		{"upstream_max_body", int64(c.UpstreamMaxBody)},
		{"account_max_concurrent", int64(c.AccountMaxConcurrent)},
		{"acquire_timeout", int64(c.AcquireTimeout)},
		{"health_interval", int64(c.HealthInterval)},
	} {
		if p.v <= 0 {
			bad("%s must be > 0", p.name)
		}
	}
	for _, p := range []struct {
		name string
		v    time.Duration
	}{
		{"first_byte_timeout", c.FirstByteTimeout}, {"idle_timeout", c.IdleTimeout},
		{"account_min_interval", c.AccountMinInterval}, {"refresh_before", c.RefreshBefore},
	} {
		if p.v < 0 {
			bad("%s must be >= 0 (0 disables it)", p.name)
		}
	}
	errs = append(errs, c.pacingErrors()...)
	return errors.Join(errs...)
}

func lookupSetting(name string) setting {
	for _, s := range settings {
		if s.name == name {
			return s
		}
	}
	panic("config: no setting " + name) // a programming error, caught by the tests
}
