package relay

import (
	"io"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// errReasoningOnly ends an answer that reasoned but never answered: it is
// an empty answer (a soft failure), never a silent success.
var errReasoningOnly = &upstream.Error{Kind: upstream.KindEmpty,
	Message: "the upstream finished its reasoning without an answer"}

// Stream is an opened answer whose first event has arrived.
type Stream struct {
	first    upstream.Event
	hasFirst bool
	answered bool // an answer (not only reasoning) event was seen
	s        upstream.Stream
	lease    Lease
	lastErr  error
	closed   bool
	// Attempts is how many upstream attempts it took.
	Attempts int
	// CredentialID names the credential that serves the answer (not secret).
	CredentialID string
}

// Next returns the next event; io.EOF at the end. An answer that ends
// after reasoning alone ends with a KindEmpty error instead of io.EOF.
func (s *Stream) Next() (upstream.Event, error) {
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
	case err == nil && ev.Type == upstream.EventContent:
		s.answered = true
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
