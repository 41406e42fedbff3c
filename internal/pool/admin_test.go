package pool

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

func TestAddAccount(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{MinInterval: -1})
	e.fake.AddUser("bob@example.com", "pw")
	got, err := e.pool.AddAccount(ctx, &store.Account{Email: "bob@example.com", Password: "pw"}, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Token != "" || got.Password != "" || got.Name != "bob@example.com" || len(got.Models) != len(qwenfake.DefaultModels()) ||
		got.TokenExpiry.Before(time.Now().Add(29*24*time.Hour)) || got.State != store.StateActive {
		t.Errorf("added %+v", got)
	}
	if s := e.stored(got.ID); s.Token == "" || s.Password != "pw" {
		t.Error("secrets not saved")
	}
	if _, err := e.ask(ctx, "hi"); err != nil {
		t.Errorf("using the new account: %v", err)
	}
	uid := e.fake.AddUser("carol@example.com", "pw")
	got, err = e.pool.AddAccount(ctx, &store.Account{Token: e.fake.MintToken(uid, time.Hour)}, AddOptions{})
	if err != nil || !strings.HasPrefix(got.Name, "token-") {
		t.Fatalf("token account: %v %+v", err, got)
	}
	bad := []struct {
		name string
		a    store.Account
		want string
	}{
		{"nothing", store.Account{Name: "x"}, "needs a token"},
		{"expired token", store.Account{Token: e.fake.MintToken(uid, -time.Hour)}, "rejects the account's token"},
		{"garbage token", store.Account{Token: "nope"}, "rejects the account's token"},
		{"wrong password", store.Account{Email: "bob@example.com", Password: "bad"}, "sign-in failed"},
		{"bad proxy", store.Account{Token: "t", Proxy: "ftp://h"}, "not supported"},
	}
	for _, tc := range bad {
		if _, err := e.pool.AddAccount(ctx, &tc.a, AddOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if list, _ := e.st.ListAccounts(ctx); len(list) != 2 {
		t.Errorf("%d accounts stored, want 2", len(list))
	}
	// An expired token with a good password: signs in instead.
	if _, err := e.pool.AddAccount(ctx, &store.Account{Name: "dave", Email: "bob@example.com", Password: "pw",
		Token: e.fake.MintToken(uid, -time.Hour)}, AddOptions{}); err != nil {
		t.Errorf("expired token with password: %v", err)
	}
}

func TestDeleteAndTestAccount(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{MinInterval: -1})
	_, a := e.account("a", time.Hour, "", func(a *store.Account) {
		a.State, a.StateReason, a.PunishURL = store.StateQuarantined, "captcha: an admin must solve it", "u"
	})
	st, err := e.pool.TestAccount(ctx, a.ID)
	if err != nil || st.State != store.StateActive || len(st.Models) != len(qwenfake.DefaultModels()) || st.PunishURL != "" {
		t.Errorf("TestAccount: %v %+v", err, st)
	}
	if strings.Contains(st.TokenPrefix, a.Token[20:]) || len(st.TokenPrefix) > 16 {
		t.Errorf("token prefix %q shows too much", st.TokenPrefix)
	}
	if err := e.pool.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if len(e.pool.Status(ctx)) != 0 {
		t.Error("deleted account still listed")
	}
	if _, err := e.st.GetAccount(ctx, a.ID); err == nil {
		t.Error("deleted account still stored")
	}
	_, b := e.account("b", -time.Hour, "", nil)
	if _, err := e.pool.TestAccount(ctx, b.ID); err == nil {
		t.Error("expired token passed the test")
	}
	if s := e.status(b.ID); s.State != store.StateInvalid {
		t.Errorf("state %s", s.State)
	}
}

func TestMaintain(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	e := newEnv(t, Options{MinInterval: -1, Now: clk.Now})
	// The pool's clock is fixed; the emulator's is real, so tokens minted
	// for 1000h are valid upstream and "expire soon" is set by hand.
	_, soon := e.account("soon", 1000*time.Hour, "pw", func(a *store.Account) { a.TokenExpiry = clk.Now().Add(time.Hour) })
	_, later := e.account("later", 1000*time.Hour, "pw", func(a *store.Account) { a.TokenExpiry = clk.Now().Add(48 * time.Hour) })
	_, nopw := e.account("nopw", 1000*time.Hour, "", func(a *store.Account) { a.TokenExpiry = clk.Now().Add(-time.Hour) })
	_, cooled := e.account("cooled", 1000*time.Hour, "", func(a *store.Account) {
		a.State, a.CoolUntil = store.StateCooling, clk.Now().Add(-time.Second)
	})
	_, cooling := e.account("cooling", 1000*time.Hour, "", func(a *store.Account) {
		a.State, a.CoolUntil = store.StateCooling, clk.Now().Add(time.Hour)
	})
	_, quar := e.account("quar", 1000*time.Hour, "", func(a *store.Account) { a.State = store.StateQuarantined })
	e.pool.maintain(ctx)
	if n := e.fake.Stats().Paths[signinPath]; n != 1 {
		t.Errorf("sign-ins = %d, want 1", n)
	}
	if s := e.status(soon.ID); s.CredentialID != "acct-1.2" || !s.TokenExpiry.After(time.Now().Add(29*24*time.Hour)) {
		t.Errorf("soon: %+v", s)
	}
	if s := e.status(later.ID); s.CredentialID != "acct-2.1" {
		t.Errorf("later re-logged in: %s", s.CredentialID)
	}
	want := map[int64]store.AccountState{nopw.ID: store.StateActive, cooled.ID: store.StateActive,
		cooling.ID: store.StateCooling, quar.ID: store.StateQuarantined}
	for id, st := range want {
		if s := e.status(id); s.State != st {
			t.Errorf("account %d: %s, want %s", id, s.State, st)
		}
	}
	clk.Add(10 * time.Minute) // the first re-probe of a quarantine is due
	e.pool.maintain(ctx)
	if s := e.status(quar.ID); s.State != store.StateActive {
		t.Errorf("quarantined account not re-probed: %s", s.State)
	}
}

func TestRunReloadsAndExits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, st := offline(t, Options{ReloadInterval: time.Millisecond, MinInterval: -1}, &store.Account{Name: "a"})
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	l, _ := acquireID(t, p, model)
	l.Release(nil)
	if err := st.CreateAccount(context.Background(), &store.Account{Name: "b", Token: "t", State: store.StateActive}); err != nil {
		t.Fatal(err)
	}
	// Someone else quarantines a: the reload adopts it.
	a, _ := st.GetAccount(context.Background(), 1)
	a.State, a.StateReason = store.StateQuarantined, "captcha: an admin must solve it"
	if err := st.UpdateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := p.Status(context.Background())
		if len(s) == 2 && s[0].State == store.StateQuarantined {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reload not seen: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if a, _ := st.GetAccount(context.Background(), 1); a.LastUsedAt.IsZero() {
		t.Error("last use not saved")
	}
}

func TestProxyClients(t *testing.T) {
	c := newClientCache(&http.Transport{MaxIdleConns: 7})
	if hc, err := c.get(""); hc != nil || err != nil {
		t.Error("no proxy must mean the provider's client")
	}
	a, err := c.get("socks5://user:pass@127.0.0.1:1080")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.get("socks5://user:pass@127.0.0.1:1080")
	h, _ := c.get("http://127.0.0.1:3128")
	if a != b || a == h || a.Transport.(*http.Transport).MaxIdleConns != 7 {
		t.Error("one client per proxy, cloned from the base")
	}
	for _, bad := range []string{"ftp://h", "http://", "::"} {
		if _, err := c.get(bad); err == nil || strings.Contains(err.Error(), "pass") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	c.closeIdle()
}
