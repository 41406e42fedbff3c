package config

import (
	"strings"
	"testing"
)

func TestContextStrategySetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
		bad  bool
	}{
		{"default attach", nil, "attach", false},
		{"truncate", map[string]string{"QWENRELAY_CONTEXT_STRATEGY": "truncate"}, "truncate", false},
		{"refuse", map[string]string{"QWENRELAY_CONTEXT_STRATEGY": "refuse"}, "refuse", false},
		{"unknown", map[string]string{"QWENRELAY_CONTEXT_STRATEGY": "summarize"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(nil, env(tc.env), &strings.Builder{})
			if tc.bad {
				if err == nil || !strings.Contains(err.Error(), "context_strategy") {
					t.Fatalf("err = %v, want one naming context_strategy", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ContextStrategy != tc.want {
				t.Fatalf("context_strategy %q, want %q", cfg.ContextStrategy, tc.want)
			}
		})
	}
}
