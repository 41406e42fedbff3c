package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

func TestAccountsAddByToken(t *testing.T) {
	e := newCLIEnv(t)
	tok := e.token("alice")
	out := e.ok("", "accounts", "add", "--token", tok, "--name", "alice", "--max-concurrent", "3", "--min-interval", "2s")
	wantContains(t, out, "added account 1", "alice", "active", "token expiry:", secrets.Mask(tok), "models:")

	// --token - reads the token from standard input, newline and all.
	tok2 := e.token("bob")
	out = e.ok(tok2+"\n", "accounts", "add", "--token", "-")
	wantContains(t, out, "added account 2", "token-", secrets.Mask(tok2))

	list := e.accounts()
	if len(list) != 2 {
		t.Fatalf("%d accounts, want 2", len(list))
	}
	for _, a := range list {
		if a.State != store.StateActive || len(a.Models) == 0 || a.TokenExpiry.IsZero() || a.HasPassword {
			t.Errorf("account %+v: want active, with models and a token expiry, no password", a)
		}
	}
	if list[0].Name != "alice" || list[0].MaxConcurrent != 3 {
		t.Errorf("account 1 = %q max_concurrent %d, want alice, 3", list[0].Name, list[0].MaxConcurrent)
	}
	text := e.ok("", "accounts", "list")
	wantContains(t, text, "ID", "TOKEN EXPIRY", "alice", "token-", "active")
	if n := strings.Count(text, "\n"); n != 3 {
		t.Errorf("list has %d lines, want a header and 2 rows:\n%s", n, text)
	}
	e.assertNotOnDisk(tok)
	e.assertNotOnDisk(tok2)

	// A name is unique.
	if got := e.fail("", "accounts", "add", "--token", e.token("carol"), "--name", "alice"); !strings.Contains(got, "already exists") {
		t.Errorf("duplicate name: error %q", got)
	}
}

func TestAccountsAddByEmail(t *testing.T) {
	e := newCLIEnv(t)
	const password = "correct horse battery staple "
	e.secrets = append(e.secrets, password)
	e.emu.AddUser("dora@example.com", password)

	// A wrong password is refused and nothing is stored.
	got := e.fail("wrong\n", "accounts", "add", "--email", "dora@example.com", "--password-stdin")
	wantContains(t, got, "sign-in")
	if list := e.accounts(); len(list) != 0 {
		t.Fatalf("a refused sign-in stored %d accounts", len(list))
	}

	// Only the line ending is trimmed: spaces are part of the password.
	out := e.ok(password+"\r\n", "accounts", "add", "--email", "dora@example.com", "--password-stdin")
	wantContains(t, out, "added account", "dora@example.com", "password:", "yes", "active")
	list := e.accounts()
	if len(list) != 1 || !list[0].HasPassword || list[0].Email != "dora@example.com" || list[0].Name != "dora@example.com" {
		t.Fatalf("accounts = %+v, want dora with a password", list)
	}
	e.assertNotOnDisk(password)
}

func TestAccountsAddBadToken(t *testing.T) {
	e := newCLIEnv(t)
	// Signed with another key: the upstream refuses it.
	bad := qwenfake.New(qwenfake.Options{Secret: []byte("another key")}).MintToken("mallory", time.Hour)
	e.secrets = append(e.secrets, bad)
	got := e.fail("", "accounts", "add", "--token", bad)
	wantContains(t, got, "rejects the account's token")
	got = e.fail("not-a-token\n", "accounts", "add", "--token", "-")
	wantContains(t, got, "accounts add")
	if list := e.accounts(); len(list) != 0 {
		t.Fatalf("rejected tokens were stored: %+v", list)
	}
	wantContains(t, e.ok("", "accounts", "list"), "no accounts")
	e.assertNotOnDisk(bad)
}

func TestAccountsLifecycle(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("", "accounts", "add", "--token", e.token("erin"), "--name", "erin")
	state := func() store.AccountState {
		t.Helper()
		list := e.accounts()
		if len(list) != 1 {
			t.Fatalf("%d accounts, want 1", len(list))
		}
		return list[0].State
	}

	wantContains(t, e.ok("", "accounts", "disable", "1"), "account 1 disabled")
	if s := state(); s != store.StateDisabled {
		t.Fatalf("after disable: %s", s)
	}
	wantContains(t, e.ok("", "accounts", "list"), "disabled by the admin")
	wantContains(t, e.ok("", "accounts", "enable", "1", "--log-level", "debug"), "account 1 enabled")
	if s := state(); s != store.StateActive {
		t.Fatalf("after enable: %s", s)
	}
	out := e.ok("", "accounts", "test", "1")
	wantContains(t, out, "account 1: test passed", "erin", "active")

	for _, verb := range []string{"enable", "disable", "delete", "test"} {
		if got := e.fail("", "accounts", verb, "42"); !strings.Contains(got, "not found") {
			t.Errorf("%s of a missing account: error %q", verb, got)
		}
	}

	wantContains(t, e.ok("", "accounts", "delete", "1"), "account 1 deleted")
	if list := e.accounts(); len(list) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
}

func TestAccountsTestFailure(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("", "accounts", "add", "--token", e.token("frank"), "--name", "frank")
	// An upstream that signs with another key refuses the stored token: the
	// test fails (an error, so exit code 2) and the account, which has no
	// password to sign in again with, is marked invalid.
	other := httptest.NewServer(qwenfake.New(qwenfake.Options{Secret: []byte("rotated")}))
	defer other.Close()
	out, _, err := e.run("", "accounts", "test", "1", "--upstream-url", other.URL)
	if err == nil {
		t.Fatal("accounts test against a refusing upstream succeeded")
	}
	wantContains(t, out, "account 1: test failed", "invalid")
	list := e.accounts()
	if len(list) != 1 || list[0].State != store.StateInvalid {
		t.Fatalf("after a refused test: %+v, want invalid", list)
	}
	// Regression: loading an invalid account logged a warning on every
	// list; the list shows the state, stderr stays quiet.
	if _, errOut, _ := e.run("", "accounts", "list"); errOut != "" {
		t.Errorf("accounts list wrote to stderr: %s", errOut)
	}
	// Enabling makes it active again (the admin replaced the token…).
	e.ok("", "accounts", "enable", "1")
	if list := e.accounts(); list[0].State != store.StateActive {
		t.Fatalf("after enable: %s", list[0].State)
	}
}
