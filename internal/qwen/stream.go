package qwen

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/sse"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// maxFrame bounds one SSE event from the upstream.
const maxFrame = 8 << 20

// frameHandler turns the frames of one protocol into events.
type frameHandler interface {
	// frame handles one SSE data payload. data is only valid during the call.
	frame(s *stream, data []byte) error
	// end is called once the body ended cleanly (io.EOF): it reports whether
	// the answer was complete and not empty.
	end(s *stream) error
	// finished reports whether the terminal frame was seen; read errors
	// after it are ignored.
	finished() bool
	// usage is the last usage the upstream reported.
	usage() upstream.Usage
}

// stream implements upstream.Stream over an SSE body.
type stream struct {
	parent context.Context // the caller's context
	ctx    context.Context // parent + our watchdog
	cancel context.CancelCauseFunc
	timer  *time.Timer // nil without timeouts
	idle   time.Duration
	body   io.ReadCloser
	dec    *sse.Decoder
	h      frameHandler
	token  string // only to scrub error strings

	queue     []upstream.Event
	qi        int
	frames    int
	content   bool            // an answer increment was emitted
	reasoning bool            // a reasoning increment was emitted
	cited     map[string]bool // source URLs already emitted (EventCitation)
	res       upstream.Result
	err       error // sticky: io.EOF or the failure
	closed    bool
	// onRelease runs once when the connection is released (the chat's
	// clean-up); nil for none.
	onRelease func()
}

func newStream(parent, ctx context.Context, cancel context.CancelCauseFunc, t *time.Timer,
	idle time.Duration, body io.ReadCloser, h frameHandler, token string) *stream {
	return &stream{
		parent: parent, ctx: ctx, cancel: cancel, timer: t, idle: idle, body: body,
		dec: sse.NewDecoder(body, maxFrame), h: h, token: token,
		queue: make([]upstream.Event, 0, 4),
	}
}

// Buffered implements upstream.Buffered: an event is queued, the stream has
// ended, or the decoder holds a complete frame. A buffered frame may still
// produce no event (an empty typing frame), so callers must not rely on
// Next never blocking; they only use this to batch writes.
func (s *stream) Buffered() bool {
	return s.qi < len(s.queue) || s.err != nil || s.dec.Buffered()
}

// Next implements upstream.Stream.
func (s *stream) Next() (upstream.Event, error) {
	for {
		if s.qi < len(s.queue) {
			ev := s.queue[s.qi]
			s.qi++
			s.pause()
			return ev, nil
		}
		if s.err != nil {
			return upstream.Event{}, s.err
		}
		s.queue, s.qi = s.queue[:0], 0
		s.resume()
		ev, err := s.dec.Next()
		if err != nil {
			s.stop(s.readError(err))
			continue
		}
		s.frames++
		s.touch()
		if err := s.h.frame(s, ev.Data); err != nil {
			s.stop(err)
		}
	}
}

// emit queues one event; empty increments are dropped.
func (s *stream) emit(t upstream.EventType, text string) {
	if text == "" {
		return
	}
	if t == upstream.EventContent || t == upstream.EventMedia {
		s.content = true
	} else {
		s.reasoning = true
	}
	s.queue = append(s.queue, upstream.Event{Type: t, Text: text})
}

// touch re-arms the idle timer after a frame.
func (s *stream) touch() {
	if s.timer == nil {
		return
	}
	if s.idle > 0 {
		s.timer.Reset(s.idle)
	} else if s.frames == 1 {
		s.timer.Stop() // only a first-byte limit was set
	}
}

// pause stops the idle timer while the caller handles an event: time spent
// writing to a slow client is not upstream silence.
func (s *stream) pause() {
	if s.timer != nil && s.frames > 0 {
		s.timer.Stop()
	}
}

// resume re-arms the idle timer before the stream reads again.
func (s *stream) resume() {
	if s.timer != nil && s.frames > 0 && s.idle > 0 {
		s.timer.Reset(s.idle)
	}
}

// readError maps a failed read of the body to the stream's final error.
func (s *stream) readError(err error) error {
	if err == io.EOF {
		return s.h.end(s)
	}
	if perr := s.parent.Err(); perr != nil {
		return perr // the caller went away: not an upstream failure
	}
	if s.h.finished() {
		return s.h.end(s) // the answer was complete; a late hiccup does not matter
	}
	if errors.Is(context.Cause(s.ctx), errWatchdog) {
		msg := "no data from the upstream within the idle timeout"
		if s.frames == 0 {
			msg = "no first frame from the upstream within the first-byte timeout"
		}
		return &upstream.Error{Kind: upstream.KindTimeout, Message: msg, Err: errWatchdog}
	}
	if errors.Is(err, sse.ErrEventTooLarge) {
		return &upstream.Error{Kind: upstream.KindBadResponse, Message: "an upstream frame is too large", Err: err}
	}
	var ue *upstream.Error
	if errors.As(err, &ue) {
		return err
	}
	return &upstream.Error{Kind: upstream.KindNetwork, Message: "the upstream connection failed mid-stream", Err: err}
}

// stop records the final error and releases the connection. A body read to
// its end returns the connection to the pool.
func (s *stream) stop(err error) {
	if err == nil {
		err = io.EOF
	}
	s.res.Usage = s.h.usage() // also for a failed answer: tokens were spent
	if err == io.EOF {
		if s.res.FinishReason == "" {
			s.res.FinishReason = "stop"
		}
	}
	s.err = redact(err, s.token)
	s.release()
}

func (s *stream) release() {
	if s.closed {
		return
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.body.Close()
	s.cancel(nil)
	if s.onRelease != nil {
		s.onRelease()
	}
}

// Result implements upstream.Stream.
// Before the end it holds the usage reported so far.
func (s *stream) Result() upstream.Result {
	r := s.res
	if s.err == nil {
		r.Usage = s.h.usage()
	}
	return r
}

// Close implements upstream.Stream; safe to call more than once.
func (s *stream) Close() error {
	if s.err == nil {
		s.err = errClosed
	}
	s.release()
	return nil
}

var errClosed = errors.New("qwen: stream closed")
