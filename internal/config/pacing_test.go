package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The pacing settings from every source, and the deprecated
// account_min_interval: alone it keeps its old meaning (0 = no pacing),
// with the settings replacing it it is an error.
func TestPacingSettings(t *testing.T) {
	tests := []struct {
		name     string
		file     string // YAML, "" = no file
		env      map[string]string
		args     []string
		rate     float64
		burst    int
		interval time.Duration
		wantErr  string
	}{
		{name: "defaults", rate: 1, burst: 3},
		{name: "env", env: map[string]string{"QWENRELAY_ACCOUNT_RATE": "2.5", "QWENRELAY_ACCOUNT_BURST": "5"}, rate: 2.5, burst: 5},
		{name: "file", file: "account_rate: 0.5\naccount_burst: 1\n", rate: 0.5, burst: 1},
		{name: "flag over env", env: map[string]string{"QWENRELAY_ACCOUNT_RATE": "2"}, args: []string{"--account-rate", "4"}, rate: 4, burst: 3},
		{name: "rate 0 is no pacing", args: []string{"--account-rate", "0"}, rate: 0, burst: 3},
		{name: "min interval 0 keeps meaning no pacing", env: map[string]string{"QWENRELAY_ACCOUNT_MIN_INTERVAL": "0s"}, rate: 0, burst: 3},
		{name: "min interval 0 in the file", file: "account_min_interval: 0s\n", rate: 0, burst: 3},
		{name: "min interval kept", args: []string{"--account-min-interval", "2s"}, rate: 1, burst: 3, interval: 2 * time.Second},
		{name: "min interval with rate", file: "account_min_interval: 2s\n", env: map[string]string{"QWENRELAY_ACCOUNT_RATE": "2"},
			wantErr: "account_min_interval is deprecated"},
		{name: "min interval with burst", args: []string{"--account-min-interval", "0s", "--account-burst", "2"},
			wantErr: "account_min_interval is deprecated"},
		{name: "negative rate", args: []string{"--account-rate", "-1"}, wantErr: "account_rate must be"},
		{name: "NaN rate", env: map[string]string{"QWENRELAY_ACCOUNT_RATE": "NaN"}, wantErr: "account_rate must be"},
		{name: "infinite rate", env: map[string]string{"QWENRELAY_ACCOUNT_RATE": "+Inf"}, wantErr: "account_rate must be"},
		{name: "rate below one a day", args: []string{"--account-rate", "0.000001"}, wantErr: "below one start a day"},
		{name: "not a number", env: map[string]string{"QWENRELAY_ACCOUNT_RATE": "fast"}, wantErr: "QWENRELAY_ACCOUNT_RATE: want a number"},
		{name: "burst 0", args: []string{"--account-burst", "0"}, wantErr: "account_burst must be between 1 and 10000"},
		{name: "burst too large", file: "account_burst: 10001\n", wantErr: "account_burst must be between"},
		{name: "negative min interval", args: []string{"--account-min-interval", "-1s"}, wantErr: "account_min_interval must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				path := filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append([]string{"--config", path}, args...)
			}
			cfg, err := Load(args, env(tt.env), &strings.Builder{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error containing %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AccountRate != tt.rate || cfg.AccountBurst != tt.burst || cfg.AccountMinInterval != tt.interval {
				t.Fatalf("rate %v burst %d interval %v; want %v %d %v", cfg.AccountRate, cfg.AccountBurst, cfg.AccountMinInterval,
					tt.rate, tt.burst, tt.interval)
			}
		})
	}
}

// The operator tools read the same settings and reject the same mistakes.
func TestToolPacingSettings(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"ok", map[string]string{"QWENRELAY_ACCOUNT_RATE": "3"}, ""},
		{"bad burst", map[string]string{"QWENRELAY_ACCOUNT_BURST": "-2"}, "account_burst"},
		{"deprecated with new", map[string]string{"QWENRELAY_ACCOUNT_MIN_INTERVAL": "1s", "QWENRELAY_ACCOUNT_BURST": "2"}, "deprecated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadTool("", env(tt.env), nil)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("want error %q, got %v", tt.wantErr, err)
			}
		})
	}
}
