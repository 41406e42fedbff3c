// Package relay orchestrates one answer: pick a credential, open the upstream
// stream, wait for its first event, and retry when a retryable failure
// happens before anything reached the client. Whether and where to retry is
// read from the policy table (upstream.Kind.Policy); the loop itself lives
// here and nowhere else.
package relay

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// ErrUnused is the outcome of a lease given back without any upstream call:
// it frees the slot and says nothing about the credential.
var ErrUnused = errors.New("relay: lease returned unused")

// Options bound the retry loop.
type Options struct {
	Attempts int           // total attempts, >= 1
	Budget   time.Duration // total time for all attempts before the first event; 0 = no limit
	Backoff  time.Duration // base backoff, doubled per attempt and jittered
}

// Observer receives retry-loop events (metrics).
type Observer interface {
	UpstreamError(kind upstream.Kind)
	Retry()
}

// Relay opens answers with retries.
type Relay struct {
	provider upstream.Provider
	opts     Options
	obs      Observer
	log      *slog.Logger
	now      func() time.Time
}

// New builds a Relay. obs may be nil.
func New(p upstream.Provider, opts Options, obs Observer, log *slog.Logger) *Relay {
	if opts.Attempts < 1 {
		opts.Attempts = 1
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{provider: p, opts: opts, obs: obs, log: log, now: time.Now}
}

// Provider returns the upstream provider.
func (r *Relay) Provider() upstream.Provider { return r.provider }

// Open starts an answer. On success the returned Stream's first Next call
// yields content or reasoning. Errors are *upstream.Error, a
// *NoCredentialError, or the context's error when the client went away.
func (r *Relay) Open(ctx context.Context, picker Picker, req *upstream.ChatRequest) (*Stream, error) {
	t := r.newTries(req)
	st, err := t.open(ctx, picker, req)
	if err != nil {
		return nil, err
	}
	st.ctx, st.t, st.picker, st.req = ctx, t, picker, req
	return st, nil
}

// tries is the retry state of one request: attempts made, the time spent,
// and which credentials failed how.
type tries struct {
	r       *Relay
	start   time.Time
	n       int
	want    Want
	lastErr error
	lastID  string
	lastAt  time.Time
}

func (r *Relay) newTries(req *upstream.ChatRequest) *tries {
	return &tries{r: r, start: r.now(), want: Want{Model: req.Model}}
}

// open runs attempts until one yields a first event, the policy says stop,
// or the attempts or the budget are spent.
func (t *tries) open(ctx context.Context, picker Picker, req *upstream.ChatRequest) (*Stream, error) {
	for t.n < t.r.opts.Attempts {
		if t.n > 0 {
			if err := t.pause(ctx); err != nil {
				return nil, err
			}
		}
		lease, err := t.acquire(ctx, picker)
		if err != nil {
			return nil, err
		}
		cred := lease.Credential()
		if err := t.honourRetryAfter(ctx, cred.ID); err != nil {
			lease.Release(ErrUnused)
			return nil, err
		}
		if t.n > 0 && t.r.obs != nil {
			t.r.obs.Retry()
		}
		t.n++
		st, err := t.r.attempt(ctx, lease, req)
		if err == nil {
			st.Attempts = t.n
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !t.failed(ctx, cred.ID, err) {
			return nil, err
		}
	}
	return nil, t.lastErr
}

// failed records a failed attempt and reports whether the policy allows
// another one. Soft failures only make the credential a last resort for
// this request; hard ones exclude it.
func (t *tries) failed(ctx context.Context, credID string, err error) bool {
	kind := upstream.KindOf(err)
	if t.r.obs != nil {
		t.r.obs.UpstreamError(kind)
	}
	pol := kind.Policy()
	t.r.log.LogAttrs(ctx, slog.LevelWarn, "upstream attempt failed",
		slog.Int("attempt", t.n), slog.String("credential", credID),
		slog.String("error_kind", kind.String()), slog.String("class", pol.Class.String()),
		slog.String("error", err.Error()))
	t.lastErr, t.lastID, t.lastAt = err, credID, t.r.now()
	if !pol.Retry {
		return false
	}
	if pol.SameCredential {
		t.want.Avoid = append(t.want.Avoid, credID)
	} else {
		t.want.Exclude = append(t.want.Exclude, credID)
	}
	return t.n < t.r.opts.Attempts
}

// pause waits the jittered exponential backoff before a retry, unless that
// would cross the budget (then the last failure is returned).
func (t *tries) pause(ctx context.Context) error {
	base := t.r.opts.Backoff << (t.n - 1)
	wait := base/2 + time.Duration(rand.Int64N(int64(base)+1))
	if t.overBudget(wait) {
		return t.lastErr
	}
	return sleep(ctx, wait)
}

// acquire asks the picker for a credential. For a retry the wait is bounded
// by what is left of the budget.
func (t *tries) acquire(ctx context.Context, picker Picker) (Lease, error) {
	actx := ctx
	if t.n > 0 && t.r.opts.Budget > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithDeadline(ctx, t.start.Add(t.r.opts.Budget))
		defer cancel()
	}
	lease, err := picker.Acquire(actx, t.want)
	if err == nil {
		return lease, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if t.lastErr == nil {
		return nil, err
	}
	// The upstream failure says more than "no credential left", but the
	// picker may know better when to come back.
	return nil, withRetryAfter(t.lastErr, err)
}

// honourRetryAfter waits out the upstream's Retry-After before the same
// credential is used again, within the budget.
func (t *tries) honourRetryAfter(ctx context.Context, credID string) error {
	ue, ok := upstream.AsError(t.lastErr)
	if !ok || credID != t.lastID || ue.RetryAfter <= 0 {
		return nil
	}
	wait := t.lastAt.Add(ue.RetryAfter).Sub(t.r.now())
	if wait <= 0 {
		return nil
	}
	if t.overBudget(wait) {
		return t.lastErr
	}
	return sleep(ctx, wait)
}

func (t *tries) overBudget(wait time.Duration) bool {
	return t.r.opts.Budget > 0 && t.r.now().Sub(t.start)+wait > t.r.opts.Budget
}

// attempt opens one upstream stream and waits for its first event.
func (r *Relay) attempt(ctx context.Context, lease Lease, req *upstream.ChatRequest) (*Stream, error) {
	cred := lease.Credential()
	s, err := r.provider.OpenChat(ctx, cred, req)
	if err != nil {
		lease.Release(err)
		return nil, err
	}
	if req.Transform != nil {
		s = req.Transform(s)
	}
	ev, err := s.Next()
	if err == io.EOF {
		err = &upstream.Error{Kind: upstream.KindEmpty, Message: "the upstream finished without any answer"}
	}
	if err != nil {
		_ = s.Close()
		lease.Release(err)
		return nil, err
	}
	st := &Stream{first: ev, hasFirst: true, s: s, lease: lease, CredentialID: cred.ID}
	st.answered = answers(ev.Type)
	return st, nil
}

// answers reports whether an event is part of the answer proper (text or
// a tool call): reasoning and search sources alone leave an empty answer.
func answers(t upstream.EventType) bool {
	return t != upstream.EventReasoning && t != upstream.EventCitation
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// withRetryAfter returns upstreamErr carrying the picker's Retry-After when
// that is longer (every credential unavailable until then).
func withRetryAfter(upstreamErr, pickErr error) error {
	var nc *NoCredentialError
	ue, ok := upstream.AsError(upstreamErr)
	if !ok || !errors.As(pickErr, &nc) || nc.RetryAfter <= ue.RetryAfter {
		return upstreamErr
	}
	cp := *ue
	cp.RetryAfter = nc.RetryAfter
	return &cp
}
