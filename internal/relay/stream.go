package relay

import (
	"context"
	"io"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// errReasoningOnly ends an answer that reasoned but never answered: it is
// an empty answer (a soft failure), never a silent success.
var errReasoningOnly = &upstream.Error{Kind: upstream.KindEmpty,
	Message: "the upstream finished its reasoning without an answer"}

// retryNote separates the reasoning of a broken attempt from the next.
const retryNote = "\n\n(the upstream broke off before answering; retrying)\n\n"

// Stream is an opened answer whose first event has arrived.
type Stream struct {
	first    upstream.Event
	hasFirst bool
	answered bool // an answer (not only reasoning) event was seen
	s        upstream.Stream
	lease    Lease
	lastErr  error
	closed   bool
	// For resuming before the answer starts (see resume). The context is
	// the request's: a Stream lives no longer than its request.
	ctx    context.Context
	t      *tries
	picker Picker
	req    *upstream.ChatRequest
	// Attempts is how many upstream attempts it took.
	Attempts int
	// CredentialID names the credential that serves the answer (not secret).
	CredentialID string
}

// Next returns the next event; io.EOF at the end. An answer that ends
// after reasoning alone ends with a KindEmpty error instead of io.EOF.
// A retryable failure before the first answer event (while only reasoning
// was seen) does not end the stream: it resumes on a new attempt, whose
// events follow.
func (s *Stream) Next() (upstream.Event, error) {
	for {
		ev, err := s.next()
		if err == nil || err == io.EOF || s.answered || !s.resume(err) {
			return ev, err
		}
	}
}

func (s *Stream) next() (upstream.Event, error) {
	if s.hasFirst {
		s.hasFirst = false
		return s.first, nil
	}
	ev, err := s.s.Next()
	switch {
	case err == io.EOF && !s.answered:
		err = errReasoningOnly
		s.lastErr = err
	case err != nil && err != io.EOF:
		s.lastErr = err
	case err == nil && answers(ev.Type):
		s.answered = true // answer text or a tool call
	}
	return ev, err
}

// resume replaces a stream that failed before its answer began with a new
// attempt, under the request's retry policy, attempts and budget. It
// reports whether there is a new stream to read; if not, the failure
// stands (or the new attempt's failure, in s.lastErr).
func (s *Stream) resume(err error) bool {
	if s.t == nil || s.ctx.Err() != nil || !s.t.failed(s.ctx, s.CredentialID, err) {
		return false
	}
	_ = s.s.Close()
	s.lease.Release(err)
	next, oerr := s.t.open(s.ctx, s.picker, s.req)
	if oerr != nil {
		s.lastErr = oerr
		return false
	}
	s.s, s.lease, s.lastErr = next.s, next.lease, nil
	s.answered, s.Attempts, s.CredentialID = next.answered, next.Attempts, next.CredentialID
	s.first, s.hasFirst = next.first, next.hasFirst
	if next.first.Type == upstream.EventReasoning {
		s.first.Text = retryNote + s.first.Text
	}
	return true
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
