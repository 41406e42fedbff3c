package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var plainKeyRE = regexp.MustCompile(`sk-qr-[0-9A-Za-z]{40}`)

// keyList lists the keys as JSON.
func (e *cliEnv) keyList() []keyView {
	e.t.Helper()
	var list []keyView
	if err := json.Unmarshal([]byte(e.ok("", "keys", "list", "--json")), &list); err != nil {
		e.t.Fatalf("keys list --json: %v", err)
	}
	return list
}

func TestKeys(t *testing.T) {
	e := newCLIEnv(t)
	out := e.ok("", "keys", "create", "--name", "ci", "--rpm", "60", "--concurrency", "4",
		"--daily-tokens", "100000", "--models", "qwen3-max, qwen-plus", "--expires", "720h")
	plain := plainKeyRE.FindString(out)
	if plain == "" {
		t.Fatalf("no plain key in:\n%s", out)
	}
	wantContains(t, out, "created key 1", "shown only once", "rpm:", "60", "4", "100000", "qwen3-max,qwen-plus", plain[:10]+"…")

	list := e.keyList()
	if len(list) != 1 {
		t.Fatalf("%d keys, want 1", len(list))
	}
	k := list[0]
	if k.Name != "ci" || k.RPM != 60 || k.MaxConcurrent != 4 || k.DailyTokenQuota != 100000 ||
		!slices.Equal(k.AllowedModels, []string{"qwen3-max", "qwen-plus"}) || k.State != "active" || plain[:10] != k.Prefix {
		t.Errorf("key = %+v", k)
	}
	if d := time.Until(k.ExpiresAt); d < 719*time.Hour || d > 721*time.Hour {
		t.Errorf("expires in %s, want 720h", d)
	}
	wantContains(t, e.ok("", "keys", "list"), "PREFIX", "ci", plain[:10], "active", "60")

	// Flags before or after the ID; only the flags given change.
	out = e.ok("", "keys", "update", "1", "--rpm", "0", "--models", "", "--no-expiry")
	wantContains(t, out, "key 1 updated", "never", "models:", "all")
	k = e.keyList()[0]
	if k.Name != "ci" || k.RPM != 0 || k.MaxConcurrent != 4 || k.DailyTokenQuota != 100000 ||
		len(k.AllowedModels) != 0 || !k.ExpiresAt.IsZero() {
		t.Errorf("after update: %+v", k)
	}
	e.ok("", "keys", "update", "--name", "ci-2", "--expires", "1h", "1")
	k = e.keyList()[0]
	if k.Name != "ci-2" || k.MaxConcurrent != 4 || k.ExpiresAt.IsZero() {
		t.Errorf("after second update: %+v", k)
	}
	if got := e.fail("", "keys", "update", "1", "--rpm", "-1"); !strings.Contains(got, "rpm") {
		t.Errorf("negative rpm: error %q", got)
	}

	wantContains(t, e.ok("", "keys", "revoke", "1"), "key 1 revoked")
	if k := e.keyList()[0]; k.State != "revoked" || k.RevokedAt.IsZero() {
		t.Errorf("after revoke: %+v", k)
	}
	wantContains(t, e.ok("", "keys", "list"), "revoked")
	for _, args := range [][]string{{"keys", "revoke", "7"}, {"keys", "update", "7", "--rpm", "1"}} {
		if got := e.fail("", args...); !strings.Contains(got, "not found") {
			t.Errorf("%v: error %q", args, got)
		}
	}

	// The plain key was printed once, by create, and is not on disk.
	if n := strings.Count(e.out.String(), plain); n != 1 {
		t.Errorf("the plain key appears %d times in the outputs, want 1", n)
	}
	e.assertNotOnDisk(plain)
	if strings.Contains(e.ok("", "keys", "list", "--json"), "hash") {
		t.Error("keys list --json shows the key hash")
	}
}

func TestKeysDataDir(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("", "keys", "create", "--name", "x")
	e.ok("", "keys", "revoke", "1")
	e.ok("", "keys", "revoke", "1") // twice is fine
	other := t.TempDir()
	// A fresh data dir: create makes the store, list refuses to.
	if got := e.fail("", "keys", "list", "--data-dir", other); !strings.Contains(got, "no database") {
		t.Errorf("list on an empty data dir: %q", got)
	}
	e.ok("", "keys", "create", "--name", "y", "--data-dir", other)
	if list := e.keyList(); len(list) != 1 || list[0].Name != "x" {
		t.Errorf("keys in the env's data dir: %+v", list)
	}
}
