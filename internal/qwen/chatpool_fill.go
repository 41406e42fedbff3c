package qwen

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

var errNegativePool = errors.New("chat pool sizes and durations must not be negative")

// fill creates chats for cred, one at a time and spaced, while one of its
// keys lacks ready chats; it returns when none does or the pool closes.
func (p *chatPool) fill(cred string, cs *credState) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		now := time.Now()
		key, ok := p.neediestLocked(cred, cs, now)
		if !ok {
			cs.filling = false
			p.mu.Unlock()
			return
		}
		if wait := later(cs.lastStart.Add(p.o.Spacing), cs.retryAt).Sub(now); wait > 0 {
			p.mu.Unlock()
			if !p.sleep(wait) {
				p.stopFilling(cs)
				return
			}
			continue // the need may have changed meanwhile
		}
		b := p.buckets[key]
		bcred := b.cred
		cs.lastStart = now
		p.creating++
		p.mu.Unlock()

		id, err := p.c.newChat(p.base, bcred, key.model)
		p.mu.Lock()
		p.creating--
		done := time.Now()
		if err != nil {
			cs.backoff = min(max(2*cs.backoff, time.Second), chatPoolMaxBackoff)
			cs.retryAt = done.Add(cs.backoff)
			wait := cs.backoff
			p.mu.Unlock()
			if p.base.Err() == nil {
				p.log.Warn("creating a spare upstream chat failed; retrying later",
					slog.String("account", cred), slog.Duration("retry_in", wait), slog.String("error", err.Error()))
			}
			continue
		}
		cs.backoff, cs.retryAt = 0, time.Time{}
		if lat := done.Sub(now); cs.latency == 0 {
			cs.latency = lat
		} else {
			cs.latency += (lat - cs.latency) / 4
		}
		p.stats.Created++
		if p.closed {
			// Close is waiting for this filler: the chat is deleted with
			// the others it drains.
			p.stats.Expired++
			p.mu.Unlock()
			p.c.chatDone(bcred, id)
			continue
		}
		if b = p.buckets[key]; b == nil {
			b = &bucket{cred: bcred}
			p.buckets[key] = b
		}
		b.chats = append(b.chats, readyChat{id: id, created: done})
		p.ready++
		cs.ready++
		p.armSweepLocked()
		p.mu.Unlock()
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (p *chatPool) stopFilling(cs *credState) {
	p.mu.Lock()
	cs.filling = false
	p.mu.Unlock()
}

// sleep waits d; false when the pool closed meanwhile.
func (p *chatPool) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.stop:
		return false
	}
}

// armSweepLocked makes sure a sweep is scheduled while chats are ready.
func (p *chatPool) armSweepLocked() {
	if p.sweep == nil && !p.closed {
		p.sweep = time.AfterFunc(p.sweepEvery(), p.sweepNow)
	}
}

// sweepEvery is how often ready chats are checked for their TTL: a chat is
// deleted at most a quarter of the TTL after it expired (it is never handed
// out after its TTL anyway).
func (p *chatPool) sweepEvery() time.Duration { return max(p.o.TTL/4, time.Millisecond) }

// sweepNow deletes expired ready chats and forgets idle, empty buckets.
func (p *chatPool) sweepNow() {
	p.mu.Lock()
	p.sweep = nil
	if p.closed {
		p.mu.Unlock()
		return
	}
	now := time.Now()
	type gone struct {
		cred upstream.Credential
		id   string
	}
	var stale []gone
	for k, b := range p.buckets {
		keep := b.chats[:0]
		for _, ch := range b.chats {
			if now.Sub(ch.created) >= p.o.TTL {
				stale = append(stale, gone{b.cred, ch.id})
				p.forgetLocked(k.cred)
				continue
			}
			keep = append(keep, ch)
		}
		clear(b.chats[len(keep):])
		b.chats = keep
		if len(b.chats) == 0 && now.Sub(b.lastTake) >= p.o.TTL {
			delete(p.buckets, k)
		}
	}
	for id, cs := range p.creds {
		if cs.ready == 0 && !cs.filling && !p.hasBucketLocked(id) {
			delete(p.creds, id)
		}
	}
	p.stats.Expired += int64(len(stale))
	if p.ready > 0 {
		p.armSweepLocked()
	}
	p.mu.Unlock()
	for _, g := range stale {
		p.c.chatDone(g.cred, g.id)
	}
}

func (p *chatPool) hasBucketLocked(cred string) bool {
	for k := range p.buckets {
		if k.cred == cred {
			return true
		}
	}
	return false
}

// gone counts a ready chat the upstream did not know any more.
func (p *chatPool) gone() {
	p.mu.Lock()
	p.stats.Gone++
	p.mu.Unlock()
}

// snapshot returns the counters.
func (p *chatPool) snapshot() ChatPoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.Ready = p.ready
	return st
}

// close stops refilling, lets creations in flight finish until ctx ends
// (a creation cut short could leave a chat whose id we never learn), then
// hands every ready chat to the clean-up.
func (p *chatPool) close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.stop) // wakes sleeping fillers
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.cancel() // aborts creations still running
	<-done
	p.mu.Lock()
	type gone struct {
		cred upstream.Credential
		id   string
	}
	var all []gone
	for k, b := range p.buckets {
		for _, ch := range b.chats {
			all = append(all, gone{b.cred, ch.id})
		}
		delete(p.buckets, k)
	}
	p.stats.Expired += int64(len(all))
	p.ready = 0
	clear(p.creds)
	st := p.stats
	p.mu.Unlock()
	p.log.Debug("chat pool closed", slog.Int64("created", st.Created), slog.Int64("taken", st.Taken),
		slog.Int64("missed", st.Missed), slog.Int64("deleted_unused", st.Expired), slog.Int64("gone", st.Gone))
	for _, g := range all {
		p.c.chatDone(g.cred, g.id)
	}
	return err
}

// ChatPoolStats returns the chat pool's counters (zero when it is off).
func (c *Client) ChatPoolStats() ChatPoolStats {
	if c.pool == nil {
		return ChatPoolStats{}
	}
	return c.pool.snapshot()
}
