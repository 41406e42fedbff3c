package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:1111\nqwen_tokens: ["+jwt("a")+", "+jwt("b")+"]\nidle_timeout: 5m\nmax_in_flight: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load([]string{"--config", file, "--max-in-flight", "9"}, env(map[string]string{
		"QWENRELAY_LISTEN": "127.0.0.1:2222", "QWENRELAY_MAX_IN_FLIGHT": "8",
	}), &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:2222" || cfg.MaxInFlight != 9 || cfg.IdleTimeout != 5*time.Minute || len(cfg.QwenTokens) != 2 {
		t.Fatalf("%+v", cfg)
	}
	if cfg.UpstreamURL != "https://chat.qwen.ai" || cfg.ModelsTTL != time.Hour {
		t.Fatal("defaults lost")
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"public without auth", map[string]string{"QWENRELAY_LISTEN": "0.0.0.0:8080"}, nil, "QWENRELAY_API_KEY"},
		{"bad protocol", map[string]string{"QWENRELAY_QWEN_TOKENS": "t", "QWENRELAY_PROTOCOL": "v9"}, nil, "protocol"},
		{"bad duration", map[string]string{"QWENRELAY_QWEN_TOKENS": "t", "QWENRELAY_IDLE_TIMEOUT": "soon"}, nil, "QWENRELAY_IDLE_TIMEOUT"},
		{"bad bool", map[string]string{"QWENRELAY_PASSTHROUGH": "maybe"}, nil, "QWENRELAY_PASSTHROUGH"},
		{"bad url", map[string]string{"QWENRELAY_QWEN_TOKENS": "t", "QWENRELAY_UPSTREAM_URL": "ftp://x"}, nil, "upstream_url"},
		{"passthrough with key", map[string]string{"QWENRELAY_PASSTHROUGH": "true", "QWENRELAY_API_KEY": "k"}, nil, "passthrough"},
		{"unknown flag", nil, []string{"--nope"}, "nope"},
		{"zero in flight", map[string]string{"QWENRELAY_QWEN_TOKENS": "t"}, []string{"--max-in-flight", "0"}, "max_in_flight"},
		{"bad token transport", map[string]string{"QWENRELAY_TOKEN_TRANSPORT": "url"}, nil, "token_transport"},
		{"bad delete chats", map[string]string{"QWENRELAY_DELETE_CHATS": "sometimes"}, nil, "QWENRELAY_DELETE_CHATS"},
		{"bad chat pool", map[string]string{"QWENRELAY_CHAT_POOL": "maybe"}, nil, "QWENRELAY_CHAT_POOL"},
		{"zero chat pool size", map[string]string{"QWENRELAY_QWEN_TOKENS": "t", "QWENRELAY_CHAT_POOL_SIZE": "0"}, nil, "chat_pool_size"},
		{"negative chat pool ttl", map[string]string{"QWENRELAY_QWEN_TOKENS": "t"}, []string{"--chat-pool-ttl", "-1s"}, "chat_pool_ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.args, env(tt.env), &strings.Builder{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}

func TestUpstreamHygieneSettings(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		transport string
		del, pool bool
	}{
		{"defaults", nil, "cookie", true, true},
		{"env", map[string]string{"QWENRELAY_TOKEN_TRANSPORT": "both", "QWENRELAY_DELETE_CHATS": "false"}, "both", false, true},
		{"header", map[string]string{"QWENRELAY_TOKEN_TRANSPORT": "header"}, "header", true, true},
		{"pool off", map[string]string{"QWENRELAY_CHAT_POOL": "false"}, "cookie", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(nil, env(tc.env), &strings.Builder{})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.TokenTransport != tc.transport || cfg.DeleteChats != tc.del || cfg.ChatPool != tc.pool {
				t.Errorf("token_transport %q, delete_chats %v, chat_pool %v", cfg.TokenTransport, cfg.DeleteChats, cfg.ChatPool)
			}
		})
	}
}

func TestUnknownFileKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	_ = os.WriteFile(file, []byte("qwen_tokens: [a]\nlisten_adress: x\n"), 0o600)
	if _, err := Load([]string{"--config", file}, env(nil), &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "listen_adress") {
		t.Fatalf("typo in config file must fail: %v", err)
	}
}

func TestSecretsNotInErrors(t *testing.T) {
	_, err := Load(nil, env(map[string]string{"QWENRELAY_QWEN_TOKENS": "secret-token", "QWENRELAY_PROTOCOL": "bad"}), &strings.Builder{})
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Fatalf("%v", err)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:80": true, "[::1]:80": true, "localhost:1": true, "0.0.0.0:80": false, ":8080": false} {
		c := Config{Listen: addr}
		if c.ListenIsLoopback() != want {
			t.Errorf("%s: want %v", addr, want)
		}
	}
}
