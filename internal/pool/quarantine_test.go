package pool

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/pool/memstore"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// probeUp is an Upstream whose model list answers with a captcha while
// blocked is set, and counts the calls.
type probeUp struct {
	mu      sync.Mutex
	blocked bool
	calls   int
}

func (u *probeUp) SignIn(context.Context, upstream.Credential, string, string) (string, error) {
	return "", upstream.Errorf(upstream.KindUnauthorized, "no sign-in here")
}

func (u *probeUp) ListModels(context.Context, upstream.Credential) ([]upstream.Model, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	if u.blocked {
		return nil, &upstream.Error{Kind: upstream.KindCaptcha, URL: "https://chat.qwen.ai/punish?x5step=2"}
	}
	return []upstream.Model{{ID: model}}, nil
}

func (u *probeUp) set(blocked bool) (calls int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.blocked = blocked
	return u.calls
}

// quarantinedPool is a pool with one account quarantined now (clk).
func quarantinedPool(t *testing.T, clk *clock, opts Options) (*Pool, *probeUp) {
	t.Helper()
	st := memstore.New()
	a := &store.Account{Name: "q", Token: "tok", State: store.StateQuarantined, StateReason: "captcha",
		StateSince: clk.Now(), PunishURL: "https://chat.qwen.ai/punish"}
	if err := st.CreateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	up := &probeUp{blocked: true}
	opts.Now, opts.MinInterval = clk.Now, -1
	p := New(opts, st, up, NewMemoryLive(), nil, nil)
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p, up
}

// TestQuarantineReprobeSchedule: a quarantined account is probed 10 min
// after the captcha, then after 20, 40… minutes while the captcha stays,
// never more than 6 h apart, and comes back on the first probe that
// passes. No sleeps: the pool's clock is moved by hand.
func TestQuarantineReprobeSchedule(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	p, up := quarantinedPool(t, clk, Options{})
	steps := []struct {
		advance   time.Duration
		calls     int // probes so far
		unblock   bool
		wantState store.AccountState
	}{
		{9 * time.Minute, 0, false, store.StateQuarantined},
		{time.Minute, 1, false, store.StateQuarantined},      // t=10m: first probe, fails
		{19 * time.Minute, 1, false, store.StateQuarantined}, // t=29m: not yet
		{time.Minute, 2, false, store.StateQuarantined},      // t=30m: +20m
		{40 * time.Minute, 3, false, store.StateQuarantined}, // t=70m: +40m
		{80 * time.Minute, 4, false, store.StateQuarantined}, // +80m
		{160 * time.Minute, 5, false, store.StateQuarantined},
		{320 * time.Minute, 6, false, store.StateQuarantined},
		{6*time.Hour - time.Minute, 6, false, store.StateQuarantined}, // capped at 6h, not 640m
		{time.Minute, 7, false, store.StateQuarantined},
		{6 * time.Hour, 8, true, store.StateActive}, // the captcha is gone: back in use
		{24 * time.Hour, 8, false, store.StateActive},
	}
	for i, s := range steps {
		clk.Add(s.advance)
		if s.unblock {
			up.set(false)
		}
		p.checkHealth(ctx)
		if calls := up.set(up.blocked); calls != s.calls {
			t.Fatalf("step %d: %d probes, want %d", i, calls, s.calls)
		}
		if st := p.Status(ctx)[0]; st.State != s.wantState {
			t.Fatalf("step %d: state %s, want %s", i, st.State, s.wantState)
		}
	}
	if l, err := p.Acquire(ctx, relay.Want{Model: model}); err != nil {
		t.Fatalf("lifted account not served: %v", err)
	} else {
		l.Release(nil)
	}
}

// TestQuarantineReprobeOptions: the probe can be switched off, the
// intervals set, and an admin's enable lifts a quarantine at once.
func TestQuarantineReprobeOptions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		opts   Options
		after  time.Duration
		enable bool
		calls  int
		want   store.AccountState
	}{
		{"off", Options{QuarantineProbe: -1}, 30 * 24 * time.Hour, false, 0, store.StateQuarantined},
		{"custom first interval", Options{QuarantineProbe: time.Minute}, time.Minute, false, 1, store.StateActive},
		{"before the first interval", Options{QuarantineProbe: time.Hour}, 59 * time.Minute, false, 0, store.StateQuarantined},
		{"enable lifts at once", Options{}, 0, true, 0, store.StateActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			p, up := quarantinedPool(t, clk, tc.opts)
			up.set(false)
			if tc.enable {
				if err := p.SetDisabled(ctx, 1, false); err != nil {
					t.Fatal(err)
				}
			}
			clk.Add(tc.after)
			p.checkHealth(ctx)
			if calls := up.set(false); calls != tc.calls {
				t.Errorf("%d probes, want %d", calls, tc.calls)
			}
			if st := p.Status(ctx)[0]; st.State != tc.want || (tc.want == store.StateActive && st.PunishURL != "") {
				t.Errorf("state %s (%q), want %s", st.State, st.PunishURL, tc.want)
			}
		})
	}
}

// TestQuarantineBackoffSurvivesFalseLift: a probe (the model list) can
// pass while answers still get the captcha; the next quarantine then waits
// twice as long, until the account serves a request again.
func TestQuarantineBackoffSurvivesFalseLift(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	p, up := quarantinedPool(t, clk, Options{})
	e, _ := p.lookup(1)
	requarantine := func() {
		p.update(ctx, e, func(e *entry) bool {
			return setState(&e.acct, store.StateQuarantined, "captcha", time.Time{}, "u", clk.Now())
		})
	}
	up.set(false)
	clk.Add(10 * time.Minute)
	p.checkHealth(ctx) // lifted
	requarantine()     // the next request meets the captcha again
	clk.Add(10 * time.Minute)
	p.checkHealth(ctx)
	if n := up.set(false); n != 1 {
		t.Fatalf("probed %d times 10 min after a false lift; want the gap doubled (1 probe so far)", n)
	}
	clk.Add(10 * time.Minute)
	p.checkHealth(ctx) // 20 min: due
	if n := up.set(false); n != 2 || p.Status(ctx)[0].State != store.StateActive {
		t.Fatalf("probes %d, state %s", n, p.Status(ctx)[0].State)
	}
	// A request served: the next quarantine starts from 10 min again.
	l, err := p.Acquire(ctx, relay.Want{Model: model})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	l.Release(nil)
	requarantine()
	clk.Add(10 * time.Minute)
	p.checkHealth(ctx)
	if n := up.set(false); n != 3 {
		t.Fatalf("probes %d, want a probe 10 min after a fresh quarantine", n)
	}
}
