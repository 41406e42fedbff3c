// Package callstream parses tool calls out of an upstream stream: the
// toolcall Parser as an upstream.Stream wrapper (a ChatRequest.Transform).
package callstream

import (
	"errors"
	"io"

	"github.com/qwenrelay/qwenrelay/internal/toolcall"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Transform returns an upstream.ChatRequest.Transform that parses tool
// calls out of every attempt's stream, with a fresh Parser each time.
func Transform(tools []toolcall.Tool, choice toolcall.Choice, parallel bool) func(upstream.Stream) upstream.Stream {
	return func(s upstream.Stream) upstream.Stream {
		return &Stream{in: s, p: toolcall.NewParser(tools, choice, parallel, nil)}
	}
}

// Stream is an upstream.Stream whose answer text is parsed for tool calls:
// text and reasoning pass through (held back only while they could still
// be a tag), each call comes out as one EventToolCall. When the model starts
// inventing a tool result after a call, the rest is dropped and the stream
// ends.
type Stream struct {
	in      upstream.Stream
	p       *toolcall.Parser
	pending []upstream.Event
	done    bool
	err     error
}

// Next implements upstream.Stream.
func (s *Stream) Next() (upstream.Event, error) {
	for len(s.pending) == 0 {
		if s.done {
			if s.err != nil {
				return upstream.Event{}, s.err
			}
			return upstream.Event{}, io.EOF
		}
		ev, err := s.in.Next()
		switch {
		case err == io.EOF:
			s.done = true
			s.collect(s.p.Close())
		case err != nil:
			// Held text is dropped: the answer failed; its caller either
			// retries or ends the answer with the error.
			s.done, s.err = true, err
			// Calls standing alone in the thinking phase with no answer
			// after them: the upstream calls that an empty answer, but the
			// calls are the answer (docs/qwen-protocol.md §11).
			var ue *upstream.Error
			if errors.As(err, &ue) && ue.Kind == upstream.KindEmpty {
				if evs := s.p.Close(); s.p.CallsMade() > 0 {
					s.collect(evs)
					s.err = nil
				}
			}
		default:
			phase := toolcall.Answer
			if ev.Type == upstream.EventReasoning {
				phase = toolcall.Thinking
			}
			s.collect(s.p.Feed(phase, ev.Text))
			if s.p.Stopped() {
				s.done = true
				s.collect(s.p.Close())
			}
		}
	}
	ev := s.pending[0]
	s.pending = s.pending[1:]
	return ev, nil
}

// collect turns parser events into upstream events.
func (s *Stream) collect(evs []toolcall.Event) {
	for i := range evs {
		e := &evs[i]
		switch e.Type {
		case toolcall.Text:
			if e.Text != "" {
				s.pending = append(s.pending, upstream.Event{Type: upstream.EventContent, Text: e.Text})
			}
		case toolcall.Reasoning:
			if e.Text != "" {
				s.pending = append(s.pending, upstream.Event{Type: upstream.EventReasoning, Text: e.Text})
			}
		case toolcall.CallEnd:
			c := e.Call
			s.pending = append(s.pending, upstream.Event{Type: upstream.EventToolCall, Call: &c})
		}
	}
}

// Result implements upstream.Stream.
func (s *Stream) Result() upstream.Result { return s.in.Result() }

// Close implements upstream.Stream.
func (s *Stream) Close() error { return s.in.Close() }

// Buffered implements upstream.Buffered.
func (s *Stream) Buffered() bool { return len(s.pending) > 0 || upstream.IsBuffered(s.in) }

// CallsMade is how many calls this stream returned.
func (s *Stream) CallsMade() int { return s.p.CallsMade() }
