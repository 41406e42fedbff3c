package keys

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Counters holds the live per-key state behind the limits. The in-memory
// implementation serves one process; a shared backend (Redis) can implement
// the same methods so replicas share budgets.
type Counters interface {
	// TakeRequest takes one request from the key's per-minute budget (burst
	// = rpm). When the budget is empty it takes nothing and returns how long
	// until a request is allowed; otherwise undo gives the request back.
	TakeRequest(ctx context.Context, keyID int64, rpm int, now time.Time) (retryAfter time.Duration, undo func(), err error)
	// Acquire takes a concurrency slot if fewer than max are held.
	Acquire(ctx context.Context, keyID int64, max int) (bool, error)
	// Release returns a slot taken by Acquire.
	Release(ctx context.Context, keyID int64)
	// DayTokens returns the key's tokens for the UTC day starting at day,
	// calling load for the persisted total the first time that day is seen.
	DayTokens(ctx context.Context, keyID int64, day time.Time, load func(context.Context) (int64, error)) (int64, error)
	// AddTokens adds n tokens to the key's total for day; totals of a day
	// that is no longer current are ignored.
	AddTokens(ctx context.Context, keyID int64, day time.Time, n int64)
}

// MemoryCounters is the single-process Counters.
type MemoryCounters struct {
	mu   sync.Mutex
	keys map[int64]*keyState
}

var _ Counters = (*MemoryCounters)(nil)

type keyState struct {
	lim      *rate.Limiter
	inFlight int
	day      time.Time // the UTC day tokens belongs to; zero = not loaded
	tokens   int64
	loadMu   sync.Mutex // serializes day loads for this key
}

// NewMemoryCounters returns empty in-memory counters.
func NewMemoryCounters() *MemoryCounters {
	return &MemoryCounters{keys: map[int64]*keyState{}}
}

// state returns the key's state; the caller holds c.mu.
func (c *MemoryCounters) state(keyID int64) *keyState {
	st, ok := c.keys[keyID]
	if !ok {
		st = &keyState{}
		c.keys[keyID] = st
	}
	return st
}

// TakeRequest implements Counters with a token bucket refilling rpm/60
// tokens a second.
func (c *MemoryCounters) TakeRequest(_ context.Context, keyID int64, rpm int, now time.Time) (time.Duration, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state(keyID)
	limit := rate.Limit(float64(rpm) / 60)
	if st.lim == nil || st.lim.Burst() != rpm {
		// New key or changed limit: start with a full bucket of the new size.
		st.lim = rate.NewLimiter(limit, rpm)
	}
	r := st.lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute, nil, nil
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, nil, nil
	}
	return 0, func() { r.CancelAt(now) }, nil
}

// Acquire implements Counters.
func (c *MemoryCounters) Acquire(_ context.Context, keyID int64, max int) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state(keyID)
	if st.inFlight >= max {
		return false, nil
	}
	st.inFlight++
	return true, nil
}

// Release implements Counters.
func (c *MemoryCounters) Release(_ context.Context, keyID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.state(keyID); st.inFlight > 0 {
		st.inFlight--
	}
}

// InFlight reports the key's held concurrency slots (for tests and status).
func (c *MemoryCounters) InFlight(keyID int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state(keyID).inFlight
}

// DayTokens implements Counters. A load runs once per key and day; callers
// for the same key wait for it, other keys do not.
func (c *MemoryCounters) DayTokens(ctx context.Context, keyID int64, day time.Time, load func(context.Context) (int64, error)) (int64, error) {
	c.mu.Lock()
	st := c.state(keyID)
	if st.day.Equal(day) {
		n := st.tokens
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()

	st.loadMu.Lock()
	defer st.loadMu.Unlock()
	c.mu.Lock()
	if st.day.Equal(day) { // loaded while we waited
		n := st.tokens
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := load(ctx)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if day.After(st.day) {
		st.day, st.tokens = day, n
	}
	return st.tokens, nil
}

// AddTokens implements Counters.
func (c *MemoryCounters) AddTokens(_ context.Context, keyID int64, day time.Time, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.state(keyID); st.day.Equal(day) {
		st.tokens += n
	}
}
