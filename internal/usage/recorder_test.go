package usage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memUsage is an in-memory store.UsageStore.
type memUsage struct {
	mu       sync.Mutex
	rows     []store.UsageRecord
	batches  []int
	failNext int // InsertUsage fails this many more times
	calls    int
	deleted  []time.Time
}

var _ store.UsageStore = (*memUsage)(nil)

func (m *memUsage) InsertUsage(_ context.Context, rows []store.UsageRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.failNext > 0 {
		m.failNext--
		return errors.New("database is locked")
	}
	m.rows = append(m.rows, rows...)
	m.batches = append(m.batches, len(rows))
	return nil
}

func (m *memUsage) QueryUsage(context.Context, store.UsageFilter) ([]store.UsageRecord, error) {
	return nil, nil
}

func (m *memUsage) DailyTotals(context.Context, store.UsageFilter) ([]store.DailyTotal, error) {
	return nil, nil
}

func (m *memUsage) KeyTokensSince(context.Context, int64, time.Time) (int64, error) { return 0, nil }

func (m *memUsage) DeleteUsageBefore(_ context.Context, t time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleted = append(m.deleted, t)
	var kept []store.UsageRecord
	for _, r := range m.rows {
		if !r.Time.Before(t) {
			kept = append(kept, r)
		}
	}
	n := len(m.rows) - len(kept)
	m.rows = kept
	return int64(n), nil
}

func (m *memUsage) snapshot() (rows int, batches []int, calls int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows), append([]int(nil), m.batches...), m.calls
}

func row(i int) store.UsageRecord {
	return store.UsageRecord{RequestID: fmt.Sprintf("req_%d", i), KeyID: 1, Model: "qwen-max", Status: 200}
}

func start(t *testing.T, r *Recorder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestBatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memUsage{}
		r := NewRecorder(st, Options{BatchSize: 10, FlushInterval: time.Hour}, nil)
		stop := start(t, r)
		defer stop()
		for i := range 35 {
			r.Record(row(i))
		}
		synctest.Wait()
		n, batches, _ := st.snapshot()
		if n != 30 || len(batches) != 3 || batches[0] != 10 {
			t.Fatalf("rows %d batches %v: want three full batches written without waiting for the interval", n, batches)
		}
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := st.snapshot(); n != 35 {
			t.Fatalf("after Close rows = %d", n)
		}
	})
}

func TestFlushOnInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memUsage{}
		r := NewRecorder(st, Options{BatchSize: 100, FlushInterval: time.Second}, nil)
		stop := start(t, r)
		defer stop()
		r.Record(row(1))
		r.Record(row(2))
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		if n, _, _ := st.snapshot(); n != 0 {
			t.Fatalf("written before the interval: %d", n)
		}
		time.Sleep(600 * time.Millisecond)
		synctest.Wait()
		if n, _, _ := st.snapshot(); n != 2 {
			t.Fatalf("after the interval rows = %d", n)
		}
		if s := r.Stats(); s.Written != 2 || s.Queued != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestCloseDrainsEverything(t *testing.T) {
	st := &memUsage{}
	r := NewRecorder(st, Options{QueueSize: 500, FlushInterval: time.Hour}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for i := range 1000 {
				r.Record(row(g*1000 + i)) // blocks when the 500-row queue is full
			}
		})
	}
	wg.Wait()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n, batches, _ := st.snapshot()
	if n != 10000 {
		t.Fatalf("rows in store = %d, want 10000", n)
	}
	for _, b := range batches {
		if b > DefaultBatchSize {
			t.Fatalf("batch of %d > %d", b, DefaultBatchSize)
		}
	}
	if s := r.Stats(); s.Written != 10000 || s.Failed != 0 || s.Dropped != 0 || s.Queued != 0 {
		t.Fatalf("stats %+v", s)
	}
	// After Close rows are dropped, counted and logged; Run cannot restart.
	r.Record(row(-1))
	if s := r.Stats(); s.Dropped != 1 {
		t.Fatalf("dropped = %d", s.Dropped)
	}
	if err := r.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseWithoutRun(t *testing.T) {
	st := &memUsage{}
	r := NewRecorder(st, Options{}, nil)
	for i := range 300 {
		r.Record(row(i))
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, batches, _ := st.snapshot(); n != 300 || len(batches) != 2 {
		t.Fatalf("rows %d batches %v", n, batches)
	}
}

func TestRunContextEndFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memUsage{}
		r := NewRecorder(st, Options{FlushInterval: time.Hour}, nil)
		stop := start(t, r)
		r.Record(row(1))
		stop()
		if n, _, _ := st.snapshot(); n != 1 {
			t.Fatalf("rows = %d", n)
		}
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRetryThenSucceed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memUsage{failNext: 2}
		r := NewRecorder(st, Options{FlushInterval: time.Second}, nil)
		stop := start(t, r)
		defer stop()
		r.Record(row(1))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		n, _, calls := st.snapshot()
		if n != 1 || calls != 3 {
			t.Fatalf("rows %d after %d calls, want 1 after 3", n, calls)
		}
		if s := r.Stats(); s.Failed != 0 || s.Written != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestRetriesExhaustedLogsLoudly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&logs, nil))
		st := &memUsage{failNext: 100}
		r := NewRecorder(st, Options{FlushInterval: time.Second, Retries: 2}, log)
		stop := start(t, r)
		defer stop()
		r.Record(row(1))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if _, _, calls := st.snapshot(); calls != 3 {
			t.Fatalf("calls = %d, want 1 + 2 retries", calls)
		}
		if s := r.Stats(); s.Failed != 1 {
			t.Fatalf("stats %+v", s)
		}
		if !strings.Contains(logs.String(), `"level":"ERROR","msg":"usage: rows lost`) {
			t.Fatalf("no error log line:\n%s", logs.String())
		}
	})
}

func TestCloseReportsLoss(t *testing.T) {
	st := &memUsage{failNext: 100}
	r := NewRecorder(st, Options{Retries: -1}, nil)
	r.Record(row(1))
	if err := r.Close(context.Background()); err == nil {
		t.Fatal("Close hid the lost row")
	}
}

func TestRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memUsage{}
		base := time.Now()
		st.rows = []store.UsageRecord{{Time: base.Add(-48 * time.Hour)}, {Time: base.Add(-time.Hour)}}
		r := NewRecorder(st, Options{Retention: 24 * time.Hour, RetentionEvery: time.Hour}, nil)
		stop := start(t, r)
		defer stop()
		synctest.Wait()
		st.mu.Lock()
		if len(st.rows) != 1 || len(st.deleted) != 1 || !st.deleted[0].Equal(base.Add(-24*time.Hour)) {
			t.Fatalf("rows %d deletes %v", len(st.rows), st.deleted)
		}
		st.mu.Unlock()
		time.Sleep(time.Hour)
		synctest.Wait()
		st.mu.Lock()
		defer st.mu.Unlock()
		if len(st.deleted) != 2 {
			t.Fatalf("retention ran %d times, want 2", len(st.deleted))
		}
	})
}

func TestNoRetentionByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memUsage{}
		r := NewRecorder(st, Options{}, nil)
		stop := start(t, r)
		time.Sleep(3 * time.Hour)
		stop()
		if len(st.deleted) != 0 {
			t.Fatal("retention ran with Retention = 0")
		}
	})
}
