package pool

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// The bucket takes the same decisions as golang.org/x/time/rate (a full
// Limiter, Allow at each start) and its wait is the Limiter's time to the
// next token.
func TestBucketMatchesRateLimiter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
		gap   time.Duration // mean time between attempts
	}{
		{"1/s burst 3", 1, 3, 300 * time.Millisecond},
		{"1/s burst 1", 1, 1, 700 * time.Millisecond},
		{"4/s burst 5", 4, 5, 100 * time.Millisecond},
		{"0.5/s burst 2", 0.5, 2, 2 * time.Second},
		{"100/s burst 10", 100, 10, 7 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.burst)))
			pace := Pace{Rate: tc.rate, Burst: tc.burst, EveryStart: true}
			lim := rate.NewLimiter(rate.Limit(tc.rate), tc.burst)
			var b bucket
			t0 := time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)
			now := t0
			allowed := 0
			for i := range 2000 {
				now = now.Add(time.Duration(rng.Int64N(int64(2 * tc.gap))))
				tokens := lim.TokensAt(now)
				want := lim.AllowN(now, 1)
				ok, wait := b.take(pace, now, false)
				if ok != want {
					t.Fatalf("attempt %d at +%v: bucket %v, limiter %v (%.6f tokens)", i, now.Sub(t0), ok, want, tokens)
				}
				if ok {
					allowed++
					continue
				}
				wantWait := time.Duration((1 - tokens) / tc.rate * float64(time.Second))
				if d := wait - wantWait; d < -time.Microsecond || d > time.Microsecond {
					t.Fatalf("attempt %d: wait %v, limiter %v", i, wait, wantWait)
				}
			}
			if allowed == 0 || allowed == 2000 {
				t.Fatalf("%d of 2000 allowed: the case does not exercise the bucket", allowed)
			}
		})
	}
}

// TryAcquire: the cap first (no wait: only a release helps), then the
// bucket, which an idle account's start passes without going into debt.
func TestMemoryLivePacing(t *testing.T) {
	t0 := time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)
	type step struct {
		at      time.Duration // since t0
		release bool          // release one slot instead of acquiring
		ok      bool
		wait    time.Duration
	}
	def := Pace{Rate: 1, Burst: 3}
	for _, tc := range []struct {
		name  string
		max   int
		pace  Pace
		steps []step
	}{
		{"sequential never waits", 2, def, []step{
			{ok: true}, {release: true}, {ok: true}, {release: true}, {ok: true}, {release: true},
			{ok: true}, {release: true}, {ok: true}, {release: true}}},
		{"overlapping starts use the burst then the rate", 10, def, []step{
			{ok: true}, {ok: true}, {ok: true}, {wait: time.Second},
			{at: 400 * time.Millisecond, wait: 600 * time.Millisecond},
			{at: time.Second, ok: true}, {at: time.Second, wait: time.Second}}},
		{"an idle start with an empty bucket leaves it empty", 10, def, []step{
			{ok: true}, {ok: true}, {ok: true}, {release: true}, {release: true}, {release: true},
			{ok: true}, {wait: time.Second}, {at: time.Second, ok: true}}},
		{"cap full: no pacing wait", 1, def, []step{{ok: true}, {}, {release: true}, {ok: true}}},
		{"every start (minimum interval)", 10, PaceEvery(time.Second), []step{
			{ok: true}, {release: true}, {wait: time.Second}, {at: 999 * time.Millisecond, wait: time.Millisecond},
			{at: time.Second, ok: true}}},
		{"no pacing", 10, Pace{}, []step{{ok: true}, {ok: true}, {ok: true}, {ok: true}, {ok: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewMemoryLive()
			ctx := context.Background()
			for i, s := range tc.steps {
				if s.release {
					if err := l.Release(ctx, 1); err != nil {
						t.Fatal(err)
					}
					continue
				}
				ok, wait, err := l.TryAcquire(ctx, 1, tc.max, tc.pace, t0.Add(s.at))
				if err != nil || ok != s.ok || wait != s.wait {
					t.Fatalf("step %d: ok %v wait %v err %v; want ok %v wait %v", i, ok, wait, err, s.ok, s.wait)
				}
			}
		})
	}
}

// tryNow acquires without waiting (the acquire timeout is a nanosecond): a
// *relay.NoCredentialError saying "busy" means it would have waited.
func tryNow(t *testing.T, p *Pool, exclude ...string) (relay.Lease, bool) {
	t.Helper()
	l, err := p.Acquire(context.Background(), relay.Want{Model: model, Exclude: exclude})
	var nc *relay.NoCredentialError
	if errors.As(err, &nc) && strings.Contains(nc.Message, "busy") {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return l, true
}

// A lone user's sequential requests on one account go through at once with
// the default pacing; the deprecated minimum interval still spaces them.
func TestSequentialRequestsDoNotWait(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     Options
		wantOK   int // of 20 sequential requests at one instant
		wantBusy bool
	}{
		{"default", Options{}, 20, false},
		{"rate 1 burst 1", Options{Rate: 1, Burst: 1}, 20, false},
		{"deprecated min interval", Options{MinInterval: time.Second}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock() // never moves: the requests are back to back
			tc.opts.Now, tc.opts.AcquireTimeout = clk.Now, time.Nanosecond
			p, _ := offline(t, tc.opts, &store.Account{Name: "a"})
			ok := 0
			for range 20 {
				l, got := tryNow(t, p)
				if !got {
					break
				}
				ok++
				l.Release(nil)
			}
			if ok != tc.wantOK {
				t.Fatalf("%d of 20 sequential requests went through at once, want %d", ok, tc.wantOK)
			}
		})
	}
}

// Concurrent requests beyond the burst start at the rate: with the
// defaults (1/s, burst 3) eight held at once start at 0, 0, 0, 1, 2, … 5 s.
func TestBurstSpreadAtRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		n    int // concurrent acquires
		want []time.Duration
	}{
		{"default", Options{MaxConcurrent: 20}, 8, secs(0, 0, 0, 1, 2, 3, 4, 5)},
		{"2/s burst 2", Options{MaxConcurrent: 20, Rate: 2, Burst: 2}, 6, secs(0, 0, 0.5, 1, 1.5, 2)},
		{"cap 2 holds the rest", Options{MaxConcurrent: 2, AcquireTimeout: 10 * time.Second}, 4, secs(0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got := burst(t, tc.opts, tc.n)
				if !equalDurations(got, tc.want) {
					t.Fatalf("starts at %v, want %v", got, tc.want)
				}
			})
		})
	}
}

// burst runs n concurrent acquires on one account that hold their lease to
// the end, and returns when each got it (since the start), in order.
func burst(t *testing.T, opts Options, n int) []time.Duration {
	p, _ := offline(t, opts, &store.Account{Name: "a"})
	start := time.Now()
	var (
		mu     sync.Mutex
		at     []time.Duration
		leases []relay.Lease
		wg     sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			l, err := p.Acquire(context.Background(), relay.Want{Model: model})
			if err != nil {
				return // the cap case: the rest time out
			}
			mu.Lock()
			at = append(at, time.Since(start))
			leases = append(leases, l)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, l := range leases {
		l.Release(nil)
	}
	return at
}

func secs(s ...float64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(math.Round(v * float64(time.Second)))
	}
	return out
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// An account's own minimum interval (store.Account.MinInterval) overrides
// the pool's pacing for that account only, with its old meaning: a minimum
// time between any two starts; < 0 turns pacing off for it.
func TestPerAccountPaceOverride(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pool     Options
		interval time.Duration // account a's MinInterval
		wantA    int           // sequential starts on a at one instant
		wantB    int           // same on b (the pool's pacing)
	}{
		{"strict account in a default pool", Options{}, time.Hour, 1, 20},
		{"unpaced account in a strict pool", Options{MinInterval: time.Hour}, -1, 20, 1},
		{"default account", Options{}, 0, 20, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			tc.pool.Now, tc.pool.AcquireTimeout = clk.Now, time.Nanosecond
			p, _ := offline(t, tc.pool, &store.Account{Name: "a", MinInterval: tc.interval}, &store.Account{Name: "b"})
			count := func(other string) int {
				n := 0
				for range 20 {
					l, ok := tryNow(t, p, other)
					if !ok {
						break
					}
					n++
					l.Release(nil)
				}
				return n
			}
			if a, b := count("acct-2.1"), count("acct-1.1"); a != tc.wantA || b != tc.wantB {
				t.Fatalf("sequential starts: a %d, b %d; want %d, %d", a, b, tc.wantA, tc.wantB)
			}
			clk.Add(time.Hour) // the strict one is free again
			if l, ok := tryNow(t, p, "acct-2.1"); !ok {
				t.Fatal("a still paced an interval later")
			} else {
				l.Release(nil)
			}
		})
	}
}
