package bench

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--scenario", "fast,slow", "-c", "7", "--delay", "0s", "--targets", "relay"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.scenarios, []string{"fast", "slow"}) || !o.targets["relay"] || o.targets["direct"] {
		t.Errorf("scenarios %v targets %v", o.scenarios, o.targets)
	}
	slow := o.resolve("slow")
	if slow.c != 7 || slow.n != 2000 || slow.delay != 0 || slow.tokens != 64 || slow.minRatio != 0.95 {
		t.Errorf("slow with overrides = %+v", slow)
	}
	if fast := o.resolve("fast"); fast.c != 7 || fast.n != 5000 {
		t.Errorf("fast with overrides = %+v", fast)
	}
	all, err := parseFlags(nil, io.Discard)
	if err != nil || !slices.Equal(all.scenarios, scenarioNames) {
		t.Fatalf("defaults: %v, %v", all, err)
	}
	if rss := all.resolve("rss"); rss.delay != time.Second || !rss.rssStream {
		t.Errorf("rss defaults = %+v", rss)
	}
}

func TestParseFlagsRejects(t *testing.T) {
	tests := [][]string{
		{"--scenario", "medium"},
		{"--targets", "both"},
		{"-n", "0"},
		{"--relay-url", "http://192.0.2.1:8080"},
		{"--emulator-url", "https://127.0.0.1:1"},
		{"extra"},
	}
	for _, args := range tests {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", strings.Join(args, " "))
		}
	}
	if _, err := parseFlags([]string{"--relay-url", "http://localhost:8080", "--emulator-url", "http://[::1]:1"}, io.Discard); err != nil {
		t.Errorf("loopback URLs rejected: %v", err)
	}
}
