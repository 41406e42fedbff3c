package qwen

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Defaults of the chat pool (docs/qwen-protocol.md §11.9).
const (
	DefaultChatPoolPerCredential = 2
	DefaultChatPoolTotal         = 32
	DefaultChatPoolTTL           = 2 * time.Minute
	DefaultChatPoolSpacing       = 250 * time.Millisecond

	// chatPoolRateWindow is the time constant of the take-rate average.
	chatPoolRateWindow = 30 * time.Second
	// chatPoolMaxBackoff caps the wait after failed creations.
	chatPoolMaxBackoff = time.Minute
	// chatTypeText is the only chat type created today (§3.1).
	chatTypeText = "t2t"
)

// ChatPoolOptions configure the pool of pre-created chats. Every answer
// needs a chat of its own, created by chats/new, which costs 0.3–6 s on the
// real service (docs/qwen-protocol.md §11.9); the pool creates them ahead of
// the requests that will use them, in the background.
type ChatPoolOptions struct {
	// Enabled turns the pool on. It needs Options.DeleteChats: a pooled
	// chat that is never used is deleted, and without deletion it would
	// stay in the account's history, so the pool stays off then.
	Enabled bool
	// PerCredential bounds the ready chats of one credential (default 2).
	PerCredential int
	// Total bounds the ready chats of all credentials (default 32).
	Total int
	// TTL: an unused chat older than this is deleted, never handed out
	// (default 2 min).
	TTL time.Duration
	// Spacing is the least time between two creations on one credential
	// (default 250 ms); creations of one credential never overlap.
	Spacing time.Duration
}

// ChatPoolStats are the pool's counters since the client was made.
type ChatPoolStats struct {
	Created int64 // chats created in the background
	Taken   int64 // requests that got a ready chat
	Missed  int64 // requests that found none and created their own
	Expired int64 // ready chats deleted at their TTL or on Close
	Gone    int64 // ready chats the upstream no longer knew (Not_Found)
	Ready   int   // ready chats now
}

func (o *ChatPoolOptions) normalize() error {
	if o.PerCredential < 0 || o.Total < 0 || o.TTL < 0 || o.Spacing < 0 {
		return errNegativePool
	}
	if o.PerCredential == 0 {
		o.PerCredential = DefaultChatPoolPerCredential
	}
	if o.Total == 0 {
		o.Total = DefaultChatPoolTotal
	}
	if o.TTL == 0 {
		o.TTL = DefaultChatPoolTTL
	}
	if o.Spacing == 0 {
		o.Spacing = DefaultChatPoolSpacing
	}
	return nil
}

// poolKey says which requests a ready chat can serve: chats/new names the
// chat type and the model (§3.1, §11.1), and a chat belongs to the token
// that created it (Credential.ID changes with the token).
type poolKey struct{ cred, chatType, model string }

type readyChat struct {
	id      string
	created time.Time
}

// bucket holds the ready chats of one key and the recent rate of requests
// for it.
type bucket struct {
	cred     upstream.Credential // the latest one seen: its HTTP client carries the calls
	chats    []readyChat         // oldest first
	rate     float64             // takes per second, exponentially averaged
	lastTake time.Time
}

// credState paces the creations of one credential.
type credState struct {
	filling   bool          // a filler goroutine runs for this credential
	ready     int           // ready chats of this credential, all keys
	lastStart time.Time     // start of the last creation
	retryAt   time.Time     // no creation before this (after a failure)
	backoff   time.Duration // the last failure's wait
	latency   time.Duration // chats/new duration, averaged
}

// chatPool keeps a few chats created ahead of use per key. It keeps time
// with the time package (not Options.Now, which stamps requests), so its
// timers and ages agree; tests run it in a testing/synctest bubble. It refills only
// after takes (an idle relay creates nothing), as many as the recent rate
// times the creation latency asks, at least one while requests are recent;
// one creation at a time per credential, spaced, with a backoff on
// failures. Unused chats are deleted at their TTL and on close, so every
// chat created is either used or deleted.
type chatPool struct {
	c      *Client
	o      ChatPoolOptions
	log    *slog.Logger
	base   context.Context
	cancel context.CancelFunc
	stop   chan struct{}  // closed by close: sleeping fillers return
	wg     sync.WaitGroup // fillers

	mu       sync.Mutex
	buckets  map[poolKey]*bucket
	creds    map[string]*credState
	ready    int // ready chats, all keys
	creating int // creations in flight
	closed   bool
	sweep    *time.Timer // armed while chats are ready
	stats    ChatPoolStats
}

func newChatPool(c *Client, o ChatPoolOptions, log *slog.Logger) *chatPool {
	base, cancel := context.WithCancel(context.Background())
	return &chatPool{c: c, o: o, log: log, base: base, cancel: cancel, stop: make(chan struct{}),
		buckets: map[poolKey]*bucket{}, creds: map[string]*credState{}}
}

// take returns a ready chat for cred and model, or "" when none is ready;
// either way it records the request and starts a refill when one is due.
func (p *chatPool) take(cred upstream.Credential, model string) string {
	key := poolKey{cred.ID, chatTypeText, model}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ""
	}
	now := time.Now()
	b := p.buckets[key]
	if b == nil {
		b = &bucket{}
		p.buckets[key] = b
	}
	b.cred = cred
	b.observe(now)
	var stale []readyChat
	id := ""
	for len(b.chats) > 0 && id == "" {
		ch := b.chats[0]
		b.chats = b.chats[1:]
		p.forgetLocked(key.cred)
		if now.Sub(ch.created) >= p.o.TTL {
			stale = append(stale, ch)
			continue
		}
		id = ch.id
	}
	p.stats.Expired += int64(len(stale))
	if id != "" {
		p.stats.Taken++
	} else {
		p.stats.Missed++
	}
	p.startFillLocked(key.cred, now)
	p.mu.Unlock()
	for _, ch := range stale {
		p.c.chatDone(cred, ch.id)
	}
	return id
}

// observe folds a take at now into the bucket's rate: an exponential
// average of the inverse gaps, weighted by how long each gap was.
func (b *bucket) observe(now time.Time) {
	if !b.lastTake.IsZero() {
		gap := max(now.Sub(b.lastTake).Seconds(), 1e-3)
		if b.rate == 0 {
			b.rate = 1 / gap // the first gap is the best guess yet
		} else {
			alpha := 1 - math.Exp(-gap/chatPoolRateWindow.Seconds())
			b.rate += alpha * (1/gap - b.rate)
		}
	}
	b.lastTake = now
}

// forgetLocked accounts for a ready chat of cred that left the pool.
func (p *chatPool) forgetLocked(cred string) {
	p.ready--
	if cs := p.creds[cred]; cs != nil {
		cs.ready--
	}
}

// want is how many ready chats the bucket should hold at now: none when
// its last request is older than the TTL, else the takes expected before a
// taken chat is replaced (rate × the time of up to two creations), at
// least one, at most PerCredential.
func (p *chatPool) want(b *bucket, cs *credState, now time.Time) int {
	since := now.Sub(b.lastTake)
	if b.lastTake.IsZero() || since >= p.o.TTL {
		return 0
	}
	// The rate decays while no request comes, so a burst that ended stops
	// asking for more than one spare.
	rate := b.rate * math.Exp(-since.Seconds()/chatPoolRateWindow.Seconds())
	// A take may come just after a creation started: its replacement is
	// ready one creation (or one spacing) later still.
	refill := cs.latency + max(cs.latency, p.o.Spacing)
	n := int(math.Ceil(rate * refill.Seconds()))
	return min(max(n, 1), p.o.PerCredential)
}

// neediestLocked returns the key of cred whose bucket lacks the most ready
// chats, or false when none lacks any or a bound is reached.
func (p *chatPool) neediestLocked(cred string, cs *credState, now time.Time) (poolKey, bool) {
	if p.closed || cs.ready >= p.o.PerCredential || p.ready+p.creating >= p.o.Total {
		return poolKey{}, false
	}
	var best poolKey
	bestGap := 0
	for k, b := range p.buckets {
		if k.cred != cred {
			continue
		}
		if gap := p.want(b, cs, now) - len(b.chats); gap > bestGap {
			best, bestGap = k, gap
		}
	}
	return best, bestGap > 0
}

// startFillLocked starts cred's filler unless it runs or nothing is due.
func (p *chatPool) startFillLocked(cred string, now time.Time) {
	cs := p.creds[cred]
	if cs == nil {
		cs = &credState{}
		p.creds[cred] = cs
	}
	if cs.filling {
		return
	}
	if _, ok := p.neediestLocked(cred, cs, now); !ok {
		return
	}
	cs.filling = true
	p.wg.Add(1)
	go p.fill(cred, cs)
}
