package config

import (
	"strings"
	"testing"
)

func TestSearchSettings(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		style     string
		responses bool
		bad       string
	}{
		{"defaults", nil, "chat_type", true, ""},
		{"auto_search", map[string]string{"QWENRELAY_SEARCH_STYLE": "auto_search"}, "auto_search", true, ""},
		{"responses tool off", map[string]string{"QWENRELAY_RESPONSES_WEB_SEARCH": "false"}, "chat_type", false, ""},
		{"bad style", map[string]string{"QWENRELAY_SEARCH_STYLE": "bing"}, "", false, "search_style"},
		{"bad bool", map[string]string{"QWENRELAY_RESPONSES_WEB_SEARCH": "maybe"}, "", false, "QWENRELAY_RESPONSES_WEB_SEARCH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range tc.env {
				e[k] = v
			}
			cfg, err := Load(nil, env(e), &strings.Builder{})
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("err = %v, want one naming %s", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.SearchStyle != tc.style || cfg.ResponsesWebSearch != tc.responses {
				t.Errorf("search_style %q, responses_web_search %v", cfg.SearchStyle, cfg.ResponsesWebSearch)
			}
		})
	}
}
