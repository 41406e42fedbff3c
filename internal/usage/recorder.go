// Package usage records one accounting row per request off the request
// path: Record queues a row, Run writes queued rows in batches (one
// transaction each), Close flushes everything on shutdown, and rows older
// than the retention period are deleted periodically.
package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Defaults for Options' zero fields.
const (
	DefaultQueueSize      = 10000
	DefaultBatchSize      = 256
	DefaultFlushInterval  = time.Second
	DefaultRetentionEvery = time.Hour
	DefaultRetries        = 3
	DefaultRetryBackoff   = 100 * time.Millisecond
	// DefaultDrainTimeout bounds the final flush when Run's context ends
	// without Close (Close uses its own context instead).
	DefaultDrainTimeout = 10 * time.Second
	// attemptTimeout bounds one InsertUsage call so a hung store cannot
	// stall the recorder forever.
	attemptTimeout = 30 * time.Second
)

// ErrClosed is returned by Run after Close (or a second Run).
var ErrClosed = errors.New("usage: recorder closed or already running")

// Options tune a Recorder; zero fields take the defaults.
type Options struct {
	QueueSize      int           // rows held in memory before Record blocks
	BatchSize      int           // rows per InsertUsage transaction
	FlushInterval  time.Duration // longest a queued row waits
	Retention      time.Duration // delete rows older than this; 0 = keep forever
	RetentionEvery time.Duration // how often retention runs
	Retries        int           // extra attempts for a failed batch (0 = default, <0 = none)
	RetryBackoff   time.Duration // first backoff; doubles each retry
	DrainTimeout   time.Duration // see DefaultDrainTimeout
	Now            func() time.Time
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueSize, DefaultQueueSize)
	def(&o.BatchSize, DefaultBatchSize)
	o.BatchSize = min(o.BatchSize, o.QueueSize)
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	defD(&o.FlushInterval, DefaultFlushInterval)
	defD(&o.RetentionEvery, DefaultRetentionEvery)
	defD(&o.RetryBackoff, DefaultRetryBackoff)
	defD(&o.DrainTimeout, DefaultDrainTimeout)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Stats counts rows by fate.
type Stats struct {
	Queued  int   // waiting in memory
	Written int64 // committed to the store
	Failed  int64 // given up on after retries (logged)
	Dropped int64 // recorded after the recorder shut down (logged)
}

type phase int

const (
	phaseOpen    phase = iota // Record blocks while the queue is full
	phaseClosing              // final flush under way: Record appends without blocking
	phaseDrained              // nothing will be written again: Record drops
)

// Recorder queues usage rows and writes them in batches.
//
// Record never drops a row while the recorder is open: when the queue is
// full it blocks the caller until Run frees space (backpressure), because
// losing accounting rows silently is worse than slowing a request down
// while the store catches up. Rows recorded after shutdown are dropped,
// counted in Stats.Dropped and logged.
type Recorder struct {
	st   store.UsageStore
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	notFull  *sync.Cond
	buf      []store.UsageRecord
	phase    phase
	running  bool
	closed   bool
	stop     chan context.Context // Close hands Run the context of the final flush
	wake     chan struct{}        // a full batch is waiting
	done     chan struct{}        // closed once the final flush is over
	lastLoss int64                // rows failed during the final flush

	written, failed, dropped atomic.Int64
}

// NewRecorder builds a Recorder; call Run to start writing and Close to
// stop. log may be nil.
func NewRecorder(st store.UsageStore, opts Options, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{
		st: st, opts: opts.withDefaults(), log: log,
		stop: make(chan context.Context), wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	r.notFull = sync.NewCond(&r.mu)
	return r
}

// Record queues one row. It returns at once unless the queue is full, in
// which case it waits for Run to make room (see Recorder).
func (r *Recorder) Record(rec store.UsageRecord) {
	r.mu.Lock()
	for r.phase == phaseOpen && len(r.buf) >= r.opts.QueueSize {
		r.notFull.Wait()
	}
	if r.phase == phaseDrained {
		r.mu.Unlock()
		r.dropped.Add(1)
		r.log.Warn("usage: row recorded after shutdown was dropped", "request_id", rec.RequestID, "key_id", rec.KeyID)
		return
	}
	r.buf = append(r.buf, rec)
	full := len(r.buf) >= r.opts.BatchSize
	r.mu.Unlock()
	if full {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// Stats reports the row counters.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	q := len(r.buf)
	r.mu.Unlock()
	return Stats{Queued: q, Written: r.written.Load(), Failed: r.failed.Load(), Dropped: r.dropped.Load()}
}

// Run writes queued rows until Close is called or ctx ends; either way it
// flushes everything queued before returning. It returns ErrClosed if the
// recorder was closed or is already running.
func (r *Recorder) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running || r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.running = true
	r.mu.Unlock()

	flush := time.NewTicker(r.opts.FlushInterval)
	defer flush.Stop()
	var retain <-chan time.Time
	if r.opts.Retention > 0 {
		t := time.NewTicker(r.opts.RetentionEvery)
		defer t.Stop()
		retain = t.C
		r.retain(ctx)
	}
	wctx := context.WithoutCancel(ctx) // a batch in progress outlives ctx
	for {
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.closed = true
			r.mu.Unlock()
			dctx, cancel := context.WithTimeout(wctx, r.opts.DrainTimeout)
			r.drain(dctx)
			cancel()
			return nil
		case cctx := <-r.stop:
			r.drain(cctx)
			return nil
		case <-r.wake:
			r.flush(wctx, true)
		case <-flush.C:
			r.flush(wctx, false)
		case <-retain:
			r.retain(ctx)
		}
	}
}

// Close stops accepting rows, writes everything queued, and stops Run. It
// returns an error if ctx ended first or some rows could not be written.
// Without a running Run, Close flushes the queue itself.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return r.wait(ctx)
	}
	r.closed = true
	running := r.running
	r.mu.Unlock()
	if !running {
		r.drain(ctx)
		return r.result()
	}
	select {
	case r.stop <- ctx:
	case <-r.done: // Run's own context ended; it has flushed
	case <-ctx.Done():
		return fmt.Errorf("usage: close: %w", ctx.Err())
	}
	return r.wait(ctx)
}

func (r *Recorder) wait(ctx context.Context) error {
	select {
	case <-r.done:
		return r.result()
	case <-ctx.Done():
		return fmt.Errorf("usage: close: %w", ctx.Err())
	}
}

func (r *Recorder) result() error {
	r.mu.Lock()
	lost := r.lastLoss
	r.mu.Unlock()
	if lost > 0 {
		return fmt.Errorf("usage: close: %d rows could not be written (see the log)", lost)
	}
	return nil
}
