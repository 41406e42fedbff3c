package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// sseWriter writes one SSE response. It is shared by the handler goroutine
// and a heartbeat timer (time.AfterFunc: no goroutine exists between beats),
// so every write holds mu. Every write has a deadline: a client that stops
// reading is treated as gone instead of holding its account forever.
type sseWriter struct {
	mu       sync.Mutex
	w        http.ResponseWriter
	rc       *http.ResponseController
	started  bool
	stopped  bool
	failed   bool // a write failed: the client is gone
	interval time.Duration
	timer    *time.Timer
	writeTO  time.Duration
	// Frames written while the upstream already has the next one buffered
	// are flushed together; holdTimer bounds how long they may wait.
	pending   bool
	holdArmed bool
	holdTimer *time.Timer
	// aborted is closed when a shutdown ends the open requests (AbortOpen);
	// close then ends a stream that has not sent [DONE] with an error event.
	aborted <-chan struct{}
	ri      *reqInfo
	done    bool // the closing frames ([DONE]) were written
	// heartbeat is the surface's keep-alive frame; enc renders, at
	// shutdown, the frames that end a stream cut short (on the handler's
	// goroutine: the encoder's state, e.g. sequence numbers, is current).
	heartbeat []byte
	enc       api.StreamEncoder
}

// maxHold bounds how long a written frame may wait for the next one before
// it is flushed anyway.
const maxHold = 2 * time.Millisecond

// shutdownWriteTimeout bounds the write of the shutdown error event, so a
// client that reads nothing cannot hold the shutdown up.
const shutdownWriteTimeout = 2 * time.Second

// newSSEWriter arms the heartbeat: if nothing is written for interval, the
// encoder's keep-alive is sent (committing the 200 SSE headers if needed).
// writeTimeout bounds each write to the client.
func newSSEWriter(w http.ResponseWriter, interval, writeTimeout time.Duration, enc api.StreamEncoder) *sseWriter {
	s := &sseWriter{w: w, rc: http.NewResponseController(w), interval: interval, writeTO: writeTimeout,
		heartbeat: enc.Heartbeat(nil), enc: enc}
	if aw := findAbortWriter(w); aw != nil {
		s.aborted, s.ri = aw.aborted, aw.ri
	}
	if interval > 0 {
		s.mu.Lock() // beat must not run before s.timer is set
		s.timer = time.AfterFunc(interval, s.beat)
		s.mu.Unlock()
	}
	return s
}

func (s *sseWriter) beat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.failed {
		return
	}
	s.writeLocked(s.heartbeat)
	s.timer.Reset(s.interval)
}

// startLocked commits the SSE headers.
func (s *sseWriter) startLocked() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
}

func (s *sseWriter) writeLocked(b []byte) bool {
	s.startLocked()
	s.deadlineLocked()
	if _, err := s.w.Write(b); err != nil {
		s.failed = true
		return false
	}
	if err := s.rc.Flush(); err != nil {
		s.failed = true
		return false
	}
	return true
}

// write sends one complete frame; false means the client is gone. With
// more set (the next upstream event is already buffered) the flush is left to
// the next write, or to holdTimer if that write does not come within maxHold.
func (s *sseWriter) write(frame []byte, more bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed || s.stopped {
		return false
	}
	var ok bool
	if more {
		ok = s.bufferLocked(frame)
	} else {
		ok = s.writeLocked(frame)
		s.pending = false
	}
	if ok && s.timer != nil {
		s.timer.Reset(s.interval)
	}
	return ok
}

func (s *sseWriter) bufferLocked(frame []byte) bool {
	s.startLocked()
	s.deadlineLocked()
	if _, err := s.w.Write(frame); err != nil {
		s.failed = true
		return false
	}
	s.pending = true
	if !s.holdArmed {
		s.holdArmed = true
		if s.holdTimer == nil {
			s.holdTimer = time.AfterFunc(maxHold, s.flushHeld)
		} else {
			s.holdTimer.Reset(maxHold)
		}
	}
	return true
}

func (s *sseWriter) flushHeld() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdArmed = false
	if !s.pending || s.failed || s.stopped { // after stop only finalWrite may write
		return
	}
	s.pending = false
	s.deadlineLocked()
	if err := s.rc.Flush(); err != nil {
		s.failed = true
	}
}

// deadlineLocked bounds the next write (a flush can block on a full socket).
func (s *sseWriter) deadlineLocked() {
	if s.writeTO > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.writeTO))
	}
}

// findAbortWriter looks for the abortable middleware's writer under w.
func findAbortWriter(w http.ResponseWriter) *abortWriter {
	for {
		switch x := w.(type) {
		case *abortWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// close stops the writer and clears the write deadline, which would
// otherwise outlive this request on a kept-alive connection. A stream that
// a shutdown cut short (its handler saw the request's context cancelled and
// wrote nothing more) is ended here with the shutdown error event and
// [DONE]: on the handler's goroutine, under mu, so no write races.
func (s *sseWriter) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	if s.abortedLocked() && !s.done && !s.failed {
		if s.writeTO <= 0 || s.writeTO > shutdownWriteTimeout {
			s.writeTO = shutdownWriteTimeout
		}
		s.done = s.writeLocked(s.enc.Fail(nil, shutdownProblem(true)))
		if s.ri != nil {
			s.ri.errKind = "server_shutting_down"
		}
	}
	if s.writeTO > 0 {
		_ = s.rc.SetWriteDeadline(time.Time{})
	}
}

func (s *sseWriter) abortedLocked() bool {
	if s.aborted == nil {
		return false
	}
	select {
	case <-s.aborted:
		return true
	default:
		return false
	}
}

// stop disarms the heartbeat; the handler must call it before returning.
func (s *sseWriter) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *sseWriter) stopLocked() {
	s.stopped = true
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.holdTimer != nil {
		s.holdTimer.Stop()
	}
}

// finalWrite writes after stop the closing frames, which end with [DONE].
func (s *sseWriter) finalWrite(frame []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		return false
	}
	s.done = s.writeLocked(frame)
	return s.done
}
