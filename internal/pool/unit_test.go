package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/pool/memstore"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// offline is a pool over an in-memory store with no upstream calls.
func offline(t testing.TB, opts Options, accounts ...*store.Account) (*Pool, *memstore.Accounts) {
	t.Helper()
	st := memstore.New()
	for _, a := range accounts {
		if a.State == "" {
			a.State = store.StateActive
		}
		if a.Token == "" {
			a.Token = "tok-" + a.Name
		}
		if err := st.CreateAccount(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	p := New(opts, st, nil, NewMemoryLive(), nil, nil)
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p, st
}

func acquireID(t *testing.T, p *Pool, model string, tried ...string) (relay.Lease, string) {
	t.Helper()
	l, err := p.Acquire(context.Background(), relay.Want{Model: model, Exclude: tried})
	if err != nil {
		t.Fatal(err)
	}
	return l, l.Credential().ID
}

func TestModelAwareSkip(t *testing.T) {
	p, _ := offline(t, Options{MinInterval: -1},
		&store.Account{Name: "coder", Models: []string{"Qwen3-Coder-Plus"}},
		&store.Account{Name: "any"})
	for range 3 {
		l, id := acquireID(t, p, "qwen3.7-plus")
		if id != "acct-2.1" {
			t.Errorf("qwen3.7-plus served by %s", id)
		}
		l.Release(nil)
	}
	l1, id1 := acquireID(t, p, "QWEN3-CODER-PLUS")
	l2, id2 := acquireID(t, p, "qwen3-coder-plus")
	if id1 == id2 {
		t.Errorf("both leases on %s; want the least in flight", id1)
	}
	l1.Release(nil)
	l2.Release(nil)
	p2, _ := offline(t, Options{}, &store.Account{Name: "coder", Models: []string{"qwen3-coder-plus"}})
	_, err := p2.Acquire(context.Background(), relay.Want{Model: "qwq-32b"})
	var nc *relay.NoCredentialError
	if !errors.As(err, &nc) || !strings.Contains(nc.Message, `1 without model "qwq-32b"`) {
		t.Errorf("err = %v", err)
	}
}

func TestDisabledSkipAndEnable(t *testing.T) {
	ctx := context.Background()
	p, st := offline(t, Options{MinInterval: -1}, &store.Account{Name: "a"}, &store.Account{Name: "b"})
	if err := p.SetDisabled(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		l, id := acquireID(t, p, model)
		if id != "acct-2.1" {
			t.Errorf("served by %s", id)
		}
		l.Release(nil)
	}
	if a, _ := st.GetAccount(ctx, 1); a.State != store.StateDisabled {
		t.Errorf("stored state %s", a.State)
	}
	if err := p.SetDisabled(ctx, 1, false); err != nil {
		t.Fatal(err)
	}
	if s := p.Status(ctx)[0]; s.State != store.StateActive {
		t.Errorf("state %s after enable", s.State)
	}
	if err := p.SetDisabled(ctx, 99, true); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
}

func TestTriedAndGeneration(t *testing.T) {
	p, _ := offline(t, Options{MinInterval: -1}, &store.Account{Name: "a"})
	_, err := p.Acquire(context.Background(), relay.Want{Model: model, Exclude: []string{"acct-1.1"}})
	var nc *relay.NoCredentialError
	if !errors.As(err, &nc) || !strings.Contains(nc.Message, "1 already failed for this request") {
		t.Fatalf("err = %v", err)
	}
	p.mu.Lock()
	p.entries[1].gen++ // as a re-login does
	p.mu.Unlock()
	l, id := acquireID(t, p, model, "acct-1.1")
	if id != "acct-1.2" {
		t.Errorf("id %s", id)
	}
	if l.(interface{ AccountID() int64 }).AccountID() != 1 {
		t.Error("AccountID")
	}
	l.Release(nil)
}

func TestOutcomes(t *testing.T) {
	clk := newClock()
	loc := time.FixedZone("CST", 8*3600)
	cases := []struct {
		name  string
		errs  []error
		state store.AccountState
		until time.Duration
	}{
		{"success", []error{nil}, store.StateActive, 0},
		{"client gone", []error{context.Canceled, fmt.Errorf("read: %w", context.DeadlineExceeded)}, store.StateActive, 0},
		{"content filter", []error{upstream.Errorf(upstream.KindContentFilter, "x")}, store.StateActive, 0},
		// Soft failures never take the account out: they penalise it.
		{"three network", []error{upstream.Errorf(upstream.KindNetwork, "x"), upstream.Errorf(upstream.KindTimeout, "x"),
			upstream.Errorf(upstream.KindTransient, "x")}, store.StateActive, 0},
		{"429 retry-after", []error{&upstream.Error{Kind: upstream.KindRateLimited, RetryAfter: 7 * time.Second}}, store.StateActive, 0},
		{"429 bare", []error{&upstream.Error{Kind: upstream.KindRateLimited}}, store.StateActive, 0},
		{"empty", []error{&upstream.Error{Kind: upstream.KindEmpty}}, store.StateActive, 0},
		// 12:00 UTC is 20:00 in UTC+8: the quota resets at 00:10 there, 16:10 UTC.
		{"quota no num", []error{&upstream.Error{Kind: upstream.KindQuota}}, store.StateCooling, 4*time.Hour + 10*time.Minute},
		{"short cool-down does not shorten", []error{&upstream.Error{Kind: upstream.KindQuota, RetryAfter: 4 * time.Hour},
			&upstream.Error{Kind: upstream.KindRateLimited}}, store.StateCooling, 4 * time.Hour},
		{"waf", []error{&upstream.Error{Kind: upstream.KindWAF, URL: "u"}}, store.StateQuarantined, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := offline(t, Options{MaxConcurrent: 10, MinInterval: -1, Now: clk.Now, QuotaResetLocation: loc}, &store.Account{Name: "a"})
			leases := make([]relay.Lease, len(tc.errs))
			for i := range leases {
				leases[i], _ = acquireID(t, p, model)
			}
			for i, err := range tc.errs {
				leases[i].Release(err)
			}
			p.Wait()
			st := p.Status(context.Background())[0]
			if st.State != tc.state {
				t.Fatalf("state %s (%s), want %s", st.State, st.Reason, tc.state)
			}
			if tc.until > 0 && !st.CoolUntil.Equal(clk.Now().Add(tc.until)) {
				t.Errorf("cool until %v, want now+%v", st.CoolUntil, tc.until)
			}
		})
	}
}

func TestNextReset(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	for _, tc := range []struct{ now, want string }{
		{"2026-06-03T12:00:00Z", "2026-06-03T16:10:00Z"},
		{"2026-06-03T16:05:00Z", "2026-06-03T16:10:00Z"},
		{"2026-06-03T16:10:00Z", "2026-06-04T16:10:00Z"},
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		want, _ := time.Parse(time.RFC3339, tc.want)
		if got := nextReset(now, sh); !got.Equal(want) {
			t.Errorf("nextReset(%s) = %v, want %v", tc.now, got.UTC(), want)
		}
	}
}

func TestAcquireWaitsForRelease(t *testing.T) {
	p, _ := offline(t, Options{MaxConcurrent: 1, MinInterval: -1}, &store.Account{Name: "a"})
	l, _ := acquireID(t, p, model)
	got := make(chan error, 1)
	go func() {
		l2, err := p.Acquire(context.Background(), relay.Want{Model: model})
		if err == nil {
			l2.Release(nil)
		}
		got <- err
	}()
	l.Release(nil)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// Busy until the timeout, or until the caller leaves.
	p2, _ := offline(t, Options{MaxConcurrent: 1, MinInterval: -1, AcquireTimeout: time.Millisecond}, &store.Account{Name: "a"})
	l, _ = acquireID(t, p2, model)
	defer l.Release(nil)
	_, err := p2.Acquire(context.Background(), relay.Want{Model: model})
	var nc *relay.NoCredentialError
	if !errors.As(err, &nc) || !strings.Contains(nc.Message, "busy") {
		t.Errorf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p2.Acquire(ctx, relay.Want{Model: model}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestPacing(t *testing.T) {
	clk := newClock()
	p, _ := offline(t, Options{MaxConcurrent: 5, MinInterval: time.Hour, Now: clk.Now, AcquireTimeout: time.Millisecond},
		&store.Account{Name: "a"})
	l, _ := acquireID(t, p, model)
	l.Release(nil)
	if _, err := p.Acquire(context.Background(), relay.Want{Model: model}); err == nil {
		t.Fatal("second start within MinInterval")
	}
	clk.Add(time.Hour)
	l, _ = acquireID(t, p, model)
	l.Release(nil)
}

func TestLeastInFlightThenLRU(t *testing.T) {
	p, _ := offline(t, Options{MaxConcurrent: 4, MinInterval: -1},
		&store.Account{Name: "a"}, &store.Account{Name: "b"}, &store.Account{Name: "c"})
	seen := map[string]int{}
	var leases []relay.Lease
	for range 6 {
		l, id := acquireID(t, p, model)
		seen[id]++
		leases = append(leases, l)
	}
	for id, n := range seen {
		if n != 2 {
			t.Errorf("%s has %d leases, want 2", id, n)
		}
	}
	for _, l := range leases {
		l.Release(nil)
		l.Release(nil) // a second Release is a no-op
	}
	for _, st := range p.Status(context.Background()) {
		if st.InFlight != 0 || st.Requests != 2 {
			t.Errorf("account %d: in flight %d, requests %d", st.ID, st.InFlight, st.Requests)
		}
	}
}

// A soft penalty lowers an account's priority; it never refuses a request:
// with every account penalised, the least penalised one serves.
func TestSoftPenaltyOrdersAndNeverRefuses(t *testing.T) {
	clk := newClock()
	p, _ := offline(t, Options{MaxConcurrent: 10, MinInterval: -1, Now: clk.Now, PenaltyBase: time.Second, PenaltyMax: 8 * time.Second},
		&store.Account{Name: "a"}, &store.Account{Name: "b"})
	soft := upstream.Errorf(upstream.KindTransient, "x")
	fail := func(id string, n int) {
		for range n {
			l, got := acquireID(t, p, model, otherThan(id)...)
			if got != id {
				t.Fatalf("acquired %s, want %s", got, id)
			}
			l.Release(soft)
		}
	}
	fail("acct-1.1", 2) // a: 2 in a row, penalised 2s
	l, id := acquireID(t, p, model)
	if id != "acct-2.1" {
		t.Fatalf("penalised a preferred: got %s", id)
	}
	l.Release(soft) // b: 1 failure, penalised 1s: b is now the least penalised
	l, id = acquireID(t, p, model)
	if id != "acct-2.1" {
		t.Fatalf("with both penalised the least penalised must serve: got %s", id)
	}
	l.Release(nil) // success clears b's penalty
	fail("acct-1.1", 6)
	st := p.Status(context.Background())
	if st[0].State != store.StateActive || st[0].ConsecutiveFailures != 8 {
		t.Errorf("a: %s, %d in a row", st[0].State, st[0].ConsecutiveFailures)
	}
	clk.Add(9 * time.Second) // past the capped penalty: a is back in the rotation
	l1, id1 := acquireID(t, p, model)
	l2, id2 := acquireID(t, p, model)
	if id1 == id2 {
		t.Errorf("after the penalty both accounts should share the load: %s, %s", id1, id2)
	}
	l1.Release(nil)
	l2.Release(nil)
}

// otherThan returns the credential IDs of a two-account pool other than id,
// as the exclusions that force Acquire onto id.
func otherThan(id string) []string {
	if id == "acct-1.1" {
		return []string{"acct-2.1"}
	}
	return []string{"acct-1.1"}
}

// An upstream Retry-After is honoured as given: the account is not used
// before it has passed; when that is longer than the acquire timeout the
// caller is told at once when to come back.
func TestRetryAfterHonoured(t *testing.T) {
	clk := newClock()
	p, _ := offline(t, Options{MinInterval: -1, Now: clk.Now, AcquireTimeout: 2 * time.Second}, &store.Account{Name: "a"})
	l, _ := acquireID(t, p, model)
	l.Release(&upstream.Error{Kind: upstream.KindRateLimited, RetryAfter: 7 * time.Second})
	_, err := p.Acquire(context.Background(), relay.Want{Model: model})
	var nc *relay.NoCredentialError
	if !errors.As(err, &nc) || nc.RetryAfter != 7*time.Second {
		t.Fatalf("err = %v", err)
	}
	clk.Add(7 * time.Second)
	l, _ = acquireID(t, p, model)
	l.Release(nil)
}
