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

func TestParseFlagsFaults(t *testing.T) {
	all, err := parseFlags(nil, io.Discard)
	if err != nil || slices.Contains(all.scenarios, "faults") {
		t.Fatalf("all = %v, %v; faults runs only when named", all.scenarios, err)
	}
	if !slices.Equal(all.faultAccounts, []int{1, 2, 5}) || all.faultSeed != "" {
		t.Errorf("fault defaults: accounts %v seed %q", all.faultAccounts, all.faultSeed)
	}
	f := all.resolve("faults")
	if !f.faults || f.n != 2000 || f.c != 20 || f.timeout != 55*time.Second {
		t.Errorf("faults defaults = %+v", f)
	}
	if fast := all.resolve("fast"); fast.timeout != 3*time.Minute {
		t.Errorf("fast timeout = %v, want --timeout's default", fast.timeout)
	}
	o, err := parseFlags([]string{"--scenario", "fast,faults", "-n", "300", "--timeout", "20s",
		"--fault-accounts", "3, 1", "--fault-seed", "abc"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f = o.resolve("faults")
	if !slices.Equal(o.scenarios, []string{"fast", "faults"}) || f.n != 300 || f.timeout != 20*time.Second ||
		!slices.Equal(o.faultAccounts, []int{3, 1}) || o.faultSeed != "abc" {
		t.Errorf("overrides: %v %+v %v %q", o.scenarios, f, o.faultAccounts, o.faultSeed)
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
		{"--fault-accounts", "0"},
		{"--fault-accounts", "1,x"},
		{"--fault-accounts", ""},
		{"--fault-accounts", "65"},
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
