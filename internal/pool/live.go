package pool

import (
	"context"
	"sync"
	"time"
)

// LiveState keeps the per-account live counters: requests in flight and the
// start time of the last one (pacing). It lives in memory today; a shared
// implementation (Redis) lets several relay processes respect the same caps.
// Every in-flight and pacing decision of the pool goes through it.
type LiveState interface {
	// TryAcquire takes a slot on account id when fewer than max requests
	// are in flight and the last start is at least minInterval before now.
	TryAcquire(ctx context.Context, id int64, max int, minInterval time.Duration, now time.Time) (ok bool, err error)
	// Release gives a slot back.
	Release(ctx context.Context, id int64) error
	// InFlight returns the requests in flight on account id.
	InFlight(ctx context.Context, id int64) (int, error)
}

// inFlightBatch is an optional LiveState method reading many accounts in
// one call (one lock; one MGET for a shared backend).
type inFlightBatch interface {
	InFlightMany(ctx context.Context, ids []int64) ([]int, error)
}

// NewMemoryLive returns a LiveState for one process.
func NewMemoryLive() LiveState { return &memoryLive{m: map[int64]*liveSlot{}} }

type liveSlot struct {
	inFlight  int
	lastStart time.Time
}

type memoryLive struct {
	mu sync.Mutex
	m  map[int64]*liveSlot
}

func (l *memoryLive) TryAcquire(_ context.Context, id int64, max int, minInterval time.Duration, now time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.m[id]
	if s == nil {
		s = &liveSlot{}
		l.m[id] = s
	}
	if s.inFlight >= max {
		return false, nil
	}
	if minInterval > 0 && !s.lastStart.IsZero() && now.Sub(s.lastStart) < minInterval {
		return false, nil
	}
	s.inFlight++
	s.lastStart = now
	return true, nil
}

func (l *memoryLive) Release(_ context.Context, id int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.m[id]; s != nil && s.inFlight > 0 {
		s.inFlight--
	}
	return nil
}

func (l *memoryLive) InFlight(_ context.Context, id int64) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.m[id]; s != nil {
		return s.inFlight, nil
	}
	return 0, nil
}

func (l *memoryLive) InFlightMany(_ context.Context, ids []int64) ([]int, error) {
	out := make([]int, len(ids))
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, id := range ids {
		if s := l.m[id]; s != nil {
			out[i] = s.inFlight
		}
	}
	return out, nil
}
