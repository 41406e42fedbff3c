package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

const signinPath = "/api/v1/auths/signin"

func TestExpiredTokenReloginOnce(t *testing.T) {
	e := newEnv(t, Options{MaxConcurrent: 32, MinInterval: -1})
	_, a := e.account("alice", -time.Hour, "pw-alice", nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := e.ask(context.Background(), "hi"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.fake.Stats().Paths[signinPath]; n != 1 {
		t.Errorf("sign-ins = %d, want 1", n)
	}
	st := e.status(a.ID)
	if st.State != store.StateActive || st.CredentialID != fmt.Sprintf("acct-%d.2", a.ID) {
		t.Errorf("status %+v", st)
	}
	saved := e.stored(a.ID)
	if saved.Token == a.Token || !saved.TokenExpiry.After(time.Now().Add(24*time.Hour)) {
		t.Errorf("new token not saved: expiry %v", saved.TokenExpiry)
	}
}

func TestCaptchaQuarantinesAndFailsOver(t *testing.T) {
	e := newEnv(t, Options{MinInterval: -1})
	uidA, a := e.account("a", time.Hour, "", nil)
	_, b := e.account("b", time.Hour, "", nil)
	e.fake.SetAccountFailure(uidA, qwenfake.Failure{Mode: qwenfake.ModeCaptcha})
	cred, err := e.ask(context.Background(), "hi")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("acct-%d.1", b.ID); cred != want {
		t.Errorf("served by %s, want %s", cred, want)
	}
	st := e.status(a.ID)
	if st.State != store.StateQuarantined || !strings.Contains(st.PunishURL, "punish") || !strings.Contains(st.Reason, "captcha") {
		t.Errorf("A status %+v", st)
	}
	if s := e.stored(a.ID); s.State != store.StateQuarantined || s.PunishURL != st.PunishURL {
		t.Errorf("stored %s %q", s.State, s.PunishURL)
	}
	if e.obs.count(store.StateQuarantined) != 1 {
		t.Errorf("observer saw %d quarantines", e.obs.count(store.StateQuarantined))
	}
}

func TestDailyQuotaCoolsUntilReset(t *testing.T) {
	clk := newClock()
	e := newEnv(t, Options{MinInterval: -1, Now: clk.Now})
	uid, a := e.account("a", 1000*time.Hour, "", nil)
	e.fake.SetAccountFailure(uid, qwenfake.Failure{Mode: qwenfake.ModeQuota})
	_, err := e.ask(context.Background(), "hi")
	if upstream.KindOf(err) != upstream.KindQuota {
		t.Fatalf("err = %v, want quota", err)
	}
	st := e.status(a.ID)
	if want := clk.Now().Add(4 * time.Hour); st.State != store.StateCooling || !st.CoolUntil.Equal(want) {
		t.Fatalf("state %s until %v, want cooling until %v", st.State, st.CoolUntil, want)
	}
	_, err = e.pool.Acquire(context.Background(), relay.Want{Model: model})
	var nc *relay.NoCredentialError
	if !errors.As(err, &nc) || nc.RetryAfter != 4*time.Hour || !strings.Contains(nc.Message, "16:00 UTC (daily quota)") {
		t.Fatalf("Acquire: %v (%+v)", err, nc)
	}
	clk.Add(4 * time.Hour)
	e.fake.SetAccountFailure(uid, qwenfake.Failure{})
	if _, err := e.ask(context.Background(), "hi"); err != nil {
		t.Fatalf("after the cool-down: %v", err)
	}
	if st := e.status(a.ID); st.State != store.StateActive {
		t.Errorf("state %s after cool-down", st.State)
	}
}

func TestUnauthorizedWithoutPasswordInvalid(t *testing.T) {
	e := newEnv(t, Options{MinInterval: -1})
	_, a := e.account("a", -time.Minute, "", nil)
	_, err := e.ask(context.Background(), "hi")
	if upstream.KindOf(err) != upstream.KindUnauthorized {
		t.Fatalf("err = %v", err)
	}
	st := e.status(a.ID)
	if st.State != store.StateInvalid || st.Reason != reasonTokenRejected {
		t.Errorf("status %s %q", st.State, st.Reason)
	}
	if e.fake.Stats().Paths[signinPath] != 0 {
		t.Error("signed in without a password")
	}
}

func TestWrongPasswordInvalid(t *testing.T) {
	e := newEnv(t, Options{MinInterval: -1})
	_, a := e.account("a", -time.Minute, "right", func(a *store.Account) { a.Password = "wrong" })
	if _, err := e.ask(context.Background(), "hi"); err == nil {
		t.Fatal("no error")
	}
	if st := e.status(a.ID); st.State != store.StateInvalid || !strings.Contains(st.Reason, "sign-in refused") {
		t.Errorf("status %s %q", st.State, st.Reason)
	}
}

func TestAllAccountsDown(t *testing.T) {
	e := newEnv(t, Options{MinInterval: -1})
	uidA, _ := e.account("a", time.Hour, "", nil)
	uidB, _ := e.account("b", time.Hour, "", nil)
	e.fake.SetAccountFailure(uidA, qwenfake.Failure{Mode: qwenfake.ModeCaptcha})
	e.fake.SetAccountFailure(uidB, qwenfake.Failure{Mode: qwenfake.ModeQuota})
	if _, err := e.ask(context.Background(), "hi"); err == nil {
		t.Fatal("no error")
	}
	e.pool.Wait()
	_, err := e.pool.Acquire(context.Background(), relay.Want{Model: model})
	var nc *relay.NoCredentialError
	if !errors.As(err, &nc) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"1 cooling down until", "(daily quota)", "1 quarantined (captcha: solve it in a browser"} {
		if !strings.Contains(nc.Message, want) {
			t.Errorf("message %q lacks %q", nc.Message, want)
		}
	}
	if nc.RetryAfter < 3*time.Hour || nc.RetryAfter > 4*time.Hour {
		t.Errorf("RetryAfter = %v, want the quota's 4h", nc.RetryAfter)
	}
	// Nothing cooling: no RetryAfter (the server answers 503).
	if err := e.pool.SetDisabled(context.Background(), 2, true); err != nil {
		t.Fatal(err)
	}
	_, err = e.pool.Acquire(context.Background(), relay.Want{Model: model})
	if !errors.As(err, &nc) || nc.RetryAfter != 0 || !strings.Contains(nc.Message, "1 disabled") {
		t.Errorf("err = %v, RetryAfter %v", err, nc.RetryAfter)
	}
}

// Regression (one account): one-off soft failures made the relay refuse
// every request for a minute (empty answer) or five (three 5xx in a row).
// Now the lone account is penalised but keeps serving, and the failed
// request itself is retried on it.
func TestSoftFailuresNeverTakeTheOnlyAccountOut(t *testing.T) {
	e := newEnv(t, Options{MinInterval: -1})
	_, a := e.account("a", time.Hour, "", nil)
	for i, mode := range []string{"empty", "http500", "http502", "bad_request", "error_frame", "malformed", "cut"} {
		text := fmt.Sprintf("hi [[qwenfake fail=%s times=1 id=soft-%d]]", mode, i)
		if _, err := e.ask(context.Background(), text); err != nil {
			t.Fatalf("%s: one-off fault not absorbed: %v", mode, err)
		}
		// A second request with a persistent fault fails, typed...
		text = fmt.Sprintf("hi [[qwenfake fail=%s]]", mode)
		if _, err := e.ask(context.Background(), text); upstream.KindOf(err).Policy().Class != upstream.ClassSoft {
			t.Fatalf("%s: persistent fault gave %v, want a soft upstream error", mode, err)
		}
		// ...and the next normal request is served at once.
		if _, err := e.ask(context.Background(), "hi"); err != nil {
			t.Fatalf("%s: next request refused: %v", mode, err)
		}
	}
	if st := e.status(a.ID); st.State != store.StateActive {
		t.Errorf("state %s (%s)", st.State, st.Reason)
	}
}

func TestConcurrencyCap(t *testing.T) {
	e := newEnv(t, Options{MaxConcurrent: 2, MinInterval: time.Millisecond})
	var uids []string
	for i := range 3 {
		uid, _ := e.account(fmt.Sprintf("acct%d", i), time.Hour, "", nil)
		uids = append(uids, uid)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			if _, err := e.ask(context.Background(), "hi [[qwenfake tokens=3 delay=1ms]]"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var total int64
	for _, uid := range uids {
		st := e.fake.Account(uid)
		total += st.Requests
		if st.MaxInFlight > 2 {
			t.Errorf("account %s: MaxInFlight %d > 2", uid, st.MaxInFlight)
		}
		if st.Requests == 0 {
			t.Errorf("account %s never used", uid)
		}
	}
	if total != 200 {
		t.Errorf("completions %d, want 200", total)
	}
	for _, st := range e.pool.Status(context.Background()) {
		if st.InFlight != 0 {
			t.Errorf("account %d: %d still in flight", st.ID, st.InFlight)
		}
	}
}
