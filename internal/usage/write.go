package usage

import (
	"context"
	"slices"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// take removes up to BatchSize rows from the queue; with fullOnly it takes
// nothing unless a whole batch is waiting.
func (r *Recorder) take(fullOnly bool) []store.UsageRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.buf), r.opts.BatchSize)
	if n == 0 || fullOnly && n < r.opts.BatchSize {
		return nil
	}
	batch := slices.Clone(r.buf[:n])
	rest := copy(r.buf, r.buf[n:])
	clear(r.buf[rest:]) // let the GC have the strings
	r.buf = r.buf[:rest]
	r.notFull.Broadcast()
	return batch
}

// flush writes full batches (fullOnly) or everything queued when it was
// called; rows arriving meanwhile wait for the next round.
func (r *Recorder) flush(ctx context.Context, fullOnly bool) {
	r.mu.Lock()
	rounds := (len(r.buf) + r.opts.BatchSize - 1) / r.opts.BatchSize
	r.mu.Unlock()
	for range rounds {
		batch := r.take(fullOnly)
		if batch == nil {
			return
		}
		r.write(ctx, batch)
	}
}

// drain is the final flush: Record stops blocking, every queued row is
// written (or counted as failed), then the recorder is marked drained so
// later rows are dropped rather than silently lost.
func (r *Recorder) drain(ctx context.Context) {
	defer close(r.done)
	r.mu.Lock()
	r.phase = phaseClosing
	r.notFull.Broadcast()
	r.mu.Unlock()
	var lost int64
	for {
		batch := r.take(false)
		if batch == nil {
			r.mu.Lock()
			if len(r.buf) == 0 { // nothing slipped in between: done
				r.phase = phaseDrained
				r.lastLoss = lost
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
			continue
		}
		if !r.write(ctx, batch) {
			lost += int64(len(batch))
		}
	}
}

// write inserts one batch in one transaction, retrying with doubling
// backoff; after the last attempt it counts the rows as failed and logs.
func (r *Recorder) write(ctx context.Context, batch []store.UsageRecord) bool {
	backoff := r.opts.RetryBackoff
	var err error
	for attempt := 0; attempt <= r.opts.Retries; attempt++ {
		if attempt > 0 {
			r.log.Warn("usage: batch write failed; retrying", "rows", len(batch), "attempt", attempt, "backoff", backoff, "error", err)
			if !sleep(ctx, backoff) {
				break
			}
			backoff *= 2
		}
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err = r.st.InsertUsage(actx, batch)
		cancel()
		if err == nil {
			r.written.Add(int64(len(batch)))
			return true
		}
		if ctx.Err() != nil {
			break
		}
	}
	r.failed.Add(int64(len(batch)))
	r.log.Error("usage: rows lost: batch could not be written", "rows", len(batch),
		"first_request_id", batch[0].RequestID, "failed_total", r.failed.Load(), "error", err)
	return false
}

// retain deletes rows older than the retention period.
func (r *Recorder) retain(ctx context.Context) {
	cutoff := r.opts.Now().Add(-r.opts.Retention)
	n, err := r.st.DeleteUsageBefore(ctx, cutoff)
	if err != nil {
		r.log.Warn("usage: retention failed", "before", cutoff, "error", err)
		return
	}
	if n > 0 {
		r.log.Info("usage: retention deleted old rows", "rows", n, "before", cutoff)
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
