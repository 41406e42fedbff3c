package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jwt builds a well-formed (unsigned) token whose payload names id.
func jwt(id string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(`{"id":"`+id+`","exp":1900000000}`)) + "." + enc.EncodeToString([]byte("signature"))
}

func TestCheckQwenToken(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		name, tok, want string // want "" = accepted
	}{
		{"jwt", jwt("u1"), ""},
		{"jwt with spaces", " " + jwt("u1") + "\n", ""},
		{"README placeholder", "eyJhbGciOi...", "4 dot-separated parts"},
		{"empty", "  ", "empty"},
		{"opaque", "sk-abcdef", "1 dot-separated parts"},
		{"two parts", "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6MX0", "2 dot-separated parts"},
		{"empty part", "eyJhbGciOiJIUzI1NiJ9..sig", "part 2 is empty"},
		{"not base64url", "eyJhbGciOiJIUzI1NiJ9.e+J/ZCI6MX0.sig", "part 2 is not base64url"},
		{"payload not json", enc([]byte("{}")) + "." + enc([]byte("hello")) + ".c2ln", "payload"},
		{"payload a list", enc([]byte("{}")) + "." + enc([]byte("[1,2]")) + ".c2ln", "payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckQwenToken(tc.tok)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused a good token: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestPlaceholderTokenRefusedAtStart: issue #6 — the README's placeholder
// in QWENRELAY_QWEN_TOKENS is refused with the token's position, never
// quoting it.
func TestPlaceholderTokenRefusedAtStart(t *testing.T) {
	_, err := Load(nil, env(map[string]string{"QWENRELAY_QWEN_TOKENS": jwt("ok") + ",eyJhbGciOi...SECRETPART"}), &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "token #2") || !strings.Contains(err.Error(), "QWENRELAY_QWEN_TOKENS") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "SECRETPART") || strings.Contains(err.Error(), "token #1") {
		t.Fatalf("error quotes the token or blames the good one: %v", err)
	}
	if _, err := Load(nil, env(map[string]string{"QWENRELAY_QWEN_TOKENS": jwt("a") + "," + jwt("b")}), &strings.Builder{}); err != nil {
		t.Fatalf("good tokens refused: %v", err)
	}
}

func TestQuarantineProbeSettings(t *testing.T) {
	file := func(body string) []string {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"--config", p}
	}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		args       []string
		on         bool
		first, max time.Duration
		wantErr    string
	}{
		{"defaults", nil, nil, true, 10 * time.Minute, 6 * time.Hour, ""},
		{"env", map[string]string{"QWENRELAY_QUARANTINE_PROBE": "false", "QWENRELAY_QUARANTINE_PROBE_FIRST": "1m",
			"QWENRELAY_QUARANTINE_PROBE_MAX": "1h"}, nil, false, time.Minute, time.Hour, ""},
		{"old env name", map[string]string{"QWENRELAY_CHECK_QUARANTINED": "false"}, nil, false, 10 * time.Minute, 6 * time.Hour, ""},
		{"new env name wins", map[string]string{"QWENRELAY_CHECK_QUARANTINED": "false", "QWENRELAY_QUARANTINE_PROBE": "true"}, nil,
			true, 10 * time.Minute, 6 * time.Hour, ""},
		{"old file key", nil, file("check_quarantined: false\n"), false, 10 * time.Minute, 6 * time.Hour, ""},
		{"new file key wins", nil, file("check_quarantined: false\nquarantine_probe: true\n"), true, 10 * time.Minute, 6 * time.Hour, ""},
		{"max below first", map[string]string{"QWENRELAY_QUARANTINE_PROBE_FIRST": "2h", "QWENRELAY_QUARANTINE_PROBE_MAX": "1h"}, nil,
			false, 0, 0, "quarantine_probe_max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(tc.args, env(tc.env), &strings.Builder{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.QuarantineProbe != tc.on || cfg.QuarantineProbeFirst != tc.first || cfg.QuarantineProbeMax != tc.max {
				t.Fatalf("probe %v first %v max %v", cfg.QuarantineProbe, cfg.QuarantineProbeFirst, cfg.QuarantineProbeMax)
			}
		})
	}
}
