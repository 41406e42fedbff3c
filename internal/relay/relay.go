// Package relay orchestrates one answer: pick a credential, open the upstream
// stream, wait for its first event, and retry on another credential when a
// retryable failure happens before anything reached the client. The retry
// policy lives here and nowhere else.
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
}

// New builds a Relay. obs may be nil.
func New(p upstream.Provider, opts Options, obs Observer, log *slog.Logger) *Relay {
	if opts.Attempts < 1 {
		opts.Attempts = 1
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{provider: p, opts: opts, obs: obs, log: log}
}

// Provider returns the upstream provider.
func (r *Relay) Provider() upstream.Provider { return r.provider }

// Stream is an opened answer whose first event has arrived.
type Stream struct {
	first    upstream.Event
	hasFirst bool
	s        upstream.Stream
	lease    Lease
	lastErr  error
	closed   bool
	// Attempts is how many upstream attempts it took.
	Attempts int
	// CredentialID names the credential that serves the answer (not secret).
	CredentialID string
}

// Next returns the next event; io.EOF at the end.
func (s *Stream) Next() (upstream.Event, error) {
	if s.hasFirst {
		s.hasFirst = false
		return s.first, nil
	}
	ev, err := s.s.Next()
	if err != nil && err != io.EOF {
		s.lastErr = err
	}
	return ev, err
}

// AccountID is the pool account serving the answer (0 when the picker has
// no accounts, as in passthrough mode).
func (s *Stream) AccountID() int64 {
	if a, ok := s.lease.(interface{ AccountID() int64 }); ok {
		return a.AccountID()
	}
	return 0
}

// Buffered implements upstream.Buffered.
func (s *Stream) Buffered() bool { return s.hasFirst || upstream.IsBuffered(s.s) }

// Result is valid after Next returned io.EOF.
func (s *Stream) Result() upstream.Result { return s.s.Result() }

// Close ends the upstream call and releases the credential with the outcome.
func (s *Stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.s.Close()
	s.lease.Release(s.lastErr)
	return err
}

// Open starts an answer. On success the returned Stream's first Next call
// yields content or reasoning. Errors are *upstream.Error, a
// *NoCredentialError, or the context's error when the client went away.
func (r *Relay) Open(ctx context.Context, picker Picker, req *upstream.ChatRequest) (*Stream, error) {
	start := time.Now()
	var tried []string
	var lastErr error
	var lastID string
	for attempt := 1; attempt <= r.opts.Attempts; attempt++ {
		lease, err := picker.Acquire(ctx, req.Model, tried)
		if err != nil {
			if lastErr != nil && ctx.Err() == nil {
				// The upstream failure says more than "no credential left",
				// but the picker may know better when to come back.
				return nil, withRetryAfter(lastErr, err)
			}
			return nil, err
		}
		cred := lease.Credential()
		if attempt > 1 && cred.ID == lastID && boundToCredential(upstream.KindOf(lastErr)) {
			// Only the failed credential is left; it would fail the same way.
			lease.Release(ErrUnused)
			return nil, lastErr
		}
		if attempt > 1 {
			wait := r.backoff(attempt, lastErr, cred.ID == lastID)
			if r.opts.Budget > 0 && time.Since(start)+wait > r.opts.Budget {
				lease.Release(ErrUnused)
				return nil, lastErr
			}
			if err := sleep(ctx, wait); err != nil {
				lease.Release(ErrUnused)
				return nil, err
			}
			if r.obs != nil {
				r.obs.Retry()
			}
		}
		tried = append(tried, cred.ID)
		st, err := r.attempt(ctx, lease, req)
		if err == nil {
			st.Attempts = attempt
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if r.obs != nil {
			r.obs.UpstreamError(upstream.KindOf(err))
		}
		r.log.LogAttrs(ctx, slog.LevelWarn, "upstream attempt failed",
			slog.Int("attempt", attempt), slog.String("credential", cred.ID),
			slog.String("error_kind", upstream.KindOf(err).String()), slog.String("error", err.Error()))
		lastErr, lastID = err, cred.ID
		if !upstream.KindOf(err).Retryable() {
			return nil, err
		}
	}
	return nil, lastErr
}

// attempt opens one upstream stream and waits for its first event.
func (r *Relay) attempt(ctx context.Context, lease Lease, req *upstream.ChatRequest) (*Stream, error) {
	cred := lease.Credential()
	s, err := r.provider.OpenChat(ctx, cred, req)
	if err != nil {
		lease.Release(err)
		return nil, err
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
	return &Stream{first: ev, hasFirst: true, s: s, lease: lease, CredentialID: cred.ID}, nil
}

// backoff is the wait before the next attempt: exponential from the base,
// jittered to ±50%, and at least the upstream's Retry-After when the same
// credential is about to be used again.
func (r *Relay) backoff(attempt int, lastErr error, sameCred bool) time.Duration {
	base := r.opts.Backoff << (attempt - 2)
	wait := base/2 + time.Duration(rand.Int64N(int64(base)+1))
	if ue, ok := upstream.AsError(lastErr); ok && sameCred && ue.RetryAfter > wait {
		wait = ue.RetryAfter
	}
	return wait
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
// that is longer (every credential cooling down until then).
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

// boundToCredential reports failures that belong to the account, not to
// the request: retrying them with the same credential cannot help.
func boundToCredential(k upstream.Kind) bool {
	switch k {
	case upstream.KindUnauthorized, upstream.KindQuota, upstream.KindCaptcha, upstream.KindWAF:
		return true
	}
	return false
}
