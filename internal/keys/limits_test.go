package keys

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

func limitErr(t *testing.T, err error, limit string) *LimitError {
	t.Helper()
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != limit {
		t.Fatalf("err = %v, want LimitError %s", err, limit)
	}
	return le
}

func TestAdmitAllowedModels(t *testing.T) {
	s, _, _, _ := newTestService(t)
	k := &store.Key{ID: 1, AllowedModels: []string{"qwen-max", "qwen-plus"}}
	rel, err := s.Admit(context.Background(), k, "qwen-max")
	if err != nil {
		t.Fatal(err)
	}
	rel(0)
	_, err = s.Admit(context.Background(), k, "qwen-turbo")
	var me *ModelNotAllowedError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "qwen-max, qwen-plus") {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.Admit(context.Background(), &store.Key{ID: 2}, "anything"); err != nil {
		t.Fatalf("no allow-list: %v", err)
	}
}

func TestAdmitRPM(t *testing.T) {
	s, _, clk, _ := newTestService(t)
	k := &store.Key{ID: 1, RPM: 2}
	ctx := context.Background()
	for range 2 {
		if _, err := s.Admit(ctx, k, "m"); err != nil {
			t.Fatal(err)
		}
	}
	le := limitErr(t, must(s.Admit(ctx, k, "m")), LimitRPM)
	if le.RetryAfter != 30*time.Second {
		t.Fatalf("RetryAfter = %v, want 30s (one request every 60s/2)", le.RetryAfter)
	}
	clk.Add(20 * time.Second)
	le = limitErr(t, must(s.Admit(ctx, k, "m")), LimitRPM)
	if le.RetryAfter != 10*time.Second {
		t.Fatalf("RetryAfter = %v, want 10s", le.RetryAfter)
	}
	clk.Add(10 * time.Second)
	if _, err := s.Admit(ctx, k, "m"); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	// Raising the limit takes effect for the same key.
	k.RPM = 60
	clk.Add(time.Minute)
	for i := range 60 {
		if _, err := s.Admit(ctx, k, "m"); err != nil {
			t.Fatalf("request %d with RPM 60: %v", i, err)
		}
	}
}

func must(_ func(int64), err error) error { return err }

func TestAdmitConcurrency(t *testing.T) {
	s, _, _, _ := newTestService(t)
	k := &store.Key{ID: 1, MaxConcurrent: 2}
	ctx := context.Background()
	r1, _ := s.Admit(ctx, k, "m")
	r2, _ := s.Admit(ctx, k, "m")
	le := limitErr(t, must(s.Admit(ctx, k, "m")), LimitConcurrency)
	if le.RetryAfter != time.Second {
		t.Fatalf("RetryAfter = %v", le.RetryAfter)
	}
	r1(0)
	r1(0) // a second release is a no-op
	r3, err := s.Admit(ctx, k, "m")
	if err != nil {
		t.Fatal(err)
	}
	limitErr(t, must(s.Admit(ctx, k, "m")), LimitConcurrency)
	r2(0)
	r3(0)
	if n := s.counters.(*MemoryCounters).InFlight(1); n != 0 {
		t.Fatalf("in flight after releases = %d", n)
	}
}

// A request rejected by a later limit must not use up an earlier one.
func TestRejectedRequestRefundsRPM(t *testing.T) {
	s, _, _, _ := newTestService(t)
	k := &store.Key{ID: 1, RPM: 2, MaxConcurrent: 1}
	ctx := context.Background()
	rel, err := s.Admit(ctx, k, "m")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		limitErr(t, must(s.Admit(ctx, k, "m")), LimitConcurrency)
	}
	rel(0)
	if _, err := s.Admit(ctx, k, "m"); err != nil {
		t.Fatalf("second request of the minute: %v", err)
	}
}

func TestAdmitDailyTokens(t *testing.T) {
	s, _, clk, tok := newTestService(t)
	tok.total = 900
	k := &store.Key{ID: 7, DailyTokenQuota: 1000}
	ctx := context.Background()
	rel, err := s.Admit(ctx, k, "m")
	if err != nil {
		t.Fatal(err)
	}
	rel(60)
	rel(1000) // ignored: release counts once
	rel2, err := s.Admit(ctx, k, "m")
	if err != nil {
		t.Fatalf("960 of 1000 used: %v", err)
	}
	rel2(40)
	le := limitErr(t, must(s.Admit(ctx, k, "m")), LimitDailyTokens)
	if le.RetryAfter != 12*time.Hour { // t0 is 12:00 UTC
		t.Fatalf("RetryAfter = %v, want 12h", le.RetryAfter)
	}
	if n := tok.calls.Load(); n != 1 {
		t.Fatalf("store consulted %d times in one day, want 1", n)
	}
	// Next UTC day: reloaded from the store (which says 0 for the new day).
	tok.total = 0
	clk.Add(12 * time.Hour)
	if _, err := s.Admit(ctx, k, "m"); err != nil {
		t.Fatalf("new day: %v", err)
	}
	if n := tok.calls.Load(); n != 2 || !tok.since[1].Equal(time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("calls %d since %v", n, tok.since)
	}
}

// Tokens of a request admitted yesterday and finished today do not count
// against today (the usage row is dated by its start).
func TestReleaseAfterMidnightCountsForAdmissionDay(t *testing.T) {
	s, _, clk, _ := newTestService(t)
	k := &store.Key{ID: 1, DailyTokenQuota: 100}
	ctx := context.Background()
	clk.Add(12*time.Hour - time.Second)
	rel, _ := s.Admit(ctx, k, "m")
	clk.Add(2 * time.Second)
	r2, err := s.Admit(ctx, k, "m")
	if err != nil {
		t.Fatal(err)
	}
	rel(500)
	r2(0)
	if _, err := s.Admit(ctx, k, "m"); err != nil {
		t.Fatalf("yesterday's tokens counted today: %v", err)
	}
}

func TestAdmitDailyLoadError(t *testing.T) {
	clk := &clock{t: t0}
	s := NewService(&memStore{now: clk.Now}, clk.Now, failingCounter{})
	k := &store.Key{ID: 1, MaxConcurrent: 1, DailyTokenQuota: 10}
	if _, err := s.Admit(context.Background(), k, "m"); err == nil {
		t.Fatal("want the load error")
	}
	if n := s.counters.(*MemoryCounters).InFlight(1); n != 0 {
		t.Fatalf("slot leaked: %d", n)
	}
}

type failingCounter struct{}

func (failingCounter) KeyTokensSince(context.Context, int64, time.Time) (int64, error) {
	return 0, errors.New("db down")
}

func TestConcurrencyNeverExceeded(t *testing.T) {
	s, _, _, tok := newTestService(t)
	tok.total = 0
	k := &store.Key{ID: 3, MaxConcurrent: 5, DailyTokenQuota: 1 << 40}
	var cur, peak, admitted atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			for range 20 {
				rel, err := s.Admit(context.Background(), k, "m")
				if err != nil {
					limitErr(t, err, LimitConcurrency)
					continue
				}
				admitted.Add(1)
				n := cur.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				cur.Add(-1)
				rel(1)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 5 {
		t.Fatalf("peak concurrency %d > 5", p)
	}
	if n := s.counters.(*MemoryCounters).InFlight(3); n != 0 {
		t.Fatalf("in flight at the end = %d", n)
	}
	used, _ := s.counters.DayTokens(context.Background(), 3, utcDay(t0), nil)
	if used != admitted.Load() {
		t.Fatalf("token total %d, want %d", used, admitted.Load())
	}
}
