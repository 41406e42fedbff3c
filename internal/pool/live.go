package pool

import (
	"context"
	"sync"
	"time"
)

// LiveState keeps the per-account live counters: requests in flight and
// the pacing bucket. It lives in memory today; a shared implementation
// (Redis) lets several relay processes respect the same caps. Every
// in-flight and pacing decision of the pool goes through it.
type LiveState interface {
	// TryAcquire takes a slot on account id when fewer than max requests
	// are in flight and pace lets a request start at now (see Pace). When
	// the cap has room but the pacing bucket refuses, wait is the time
	// until it has a token; it is 0 when only a release can help.
	TryAcquire(ctx context.Context, id int64, max int, pace Pace, now time.Time) (ok bool, wait time.Duration, err error)
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

// Pace is the pacing of request starts on one account: a token bucket
// holding up to Burst tokens, refilled at Rate tokens per second, with the
// semantics of golang.org/x/time/rate (a Limiter with limit Rate and burst
// Burst, starting full, Allow at each start).
//
// By default only a start that overlaps another request on the account
// needs a token: a start on an idle account (nothing in flight) never
// waits, and takes a token when there is one. A lone user's sequential
// requests are not the burst pacing exists to smooth; their own length
// spaces them. With EveryStart every start needs a token, as the old
// minimum interval did (see PaceEvery).
//
// A shared implementation keeps one time per account (the time the bucket
// is full again, see bucket) and reproduces the decision with the same
// integer arithmetic on nanoseconds.
type Pace struct {
	Rate       float64 // tokens per second; <= 0: no pacing
	Burst      int     // bucket size; < 1 is taken as 1
	EveryStart bool    // pace starts on an idle account too
}

// PaceEvery is a minimum interval d between any two starts: rate 1/d,
// burst 1, every start paced. d <= 0 is no pacing.
func PaceEvery(d time.Duration) Pace {
	if d <= 0 {
		return Pace{}
	}
	return Pace{Rate: float64(time.Second) / float64(d), Burst: 1, EveryStart: true}
}

// Bounds keeping the bucket arithmetic far from overflow.
const (
	maxPaceInterval = 7 * 24 * time.Hour
	maxPaceBurst    = 10000
)

// interval is the time one token takes to come back, rounded to the
// nanosecond and bounded by maxPaceInterval; 0 means no pacing.
func (p Pace) interval() time.Duration {
	if !(p.Rate > 0) { // also NaN
		return 0
	}
	f := float64(time.Second) / p.Rate
	if f >= float64(maxPaceInterval) {
		return maxPaceInterval
	}
	return time.Duration(f + 0.5)
}

func (p Pace) burst() int64 { return int64(min(max(p.Burst, 1), maxPaceBurst)) }

// bucket is the token bucket of Pace as one time: full is when the bucket
// is full again (zero: full). At now it holds Burst - (full-now)/interval
// tokens, so it has one when full - now <= (Burst-1)*interval. Taking one
// moves full one interval later (from now at the earliest).
type bucket struct{ full time.Time }

// take takes a token at now. Without one it returns the wait until there
// is one, unless force: then the start goes ahead without a token (an idle
// account, see Pace) and the bucket is left as it is.
func (b *bucket) take(p Pace, now time.Time, force bool) (ok bool, wait time.Duration) {
	t := p.interval()
	if t <= 0 {
		return true, 0
	}
	full := b.full
	if full.Before(now) {
		full = now
	}
	if d := full.Sub(now) - time.Duration(p.burst()-1)*t; d > 0 {
		if force {
			return true, 0
		}
		return false, d
	}
	b.full = full.Add(t)
	return true, 0
}

// NewMemoryLive returns a LiveState for one process.
func NewMemoryLive() LiveState { return &memoryLive{m: map[int64]*liveSlot{}} }

type liveSlot struct {
	inFlight int
	bucket   bucket
}

type memoryLive struct {
	mu sync.Mutex
	m  map[int64]*liveSlot
}

func (l *memoryLive) TryAcquire(_ context.Context, id int64, max int, pace Pace, now time.Time) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.m[id]
	if s == nil {
		s = &liveSlot{}
		l.m[id] = s
	}
	if s.inFlight >= max {
		return false, 0, nil
	}
	ok, wait := s.bucket.take(pace, now, s.inFlight == 0 && !pace.EveryStart)
	if !ok {
		return false, wait, nil
	}
	s.inFlight++
	return true, 0, nil
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
