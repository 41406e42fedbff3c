package qwenfake

import (
	"net/http"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/sse"
)

// streamer runs one SSE stream. The only goroutine is the handler's; pacing
// uses one reusable timer.
type streamer struct {
	s      *Server
	o      *out
	r      *http.Request
	p      *streamPlan
	enc    encoder
	buf    *[]byte
	timer  *time.Timer
	sent   bool // a frame was sent (pacing starts after the first)
	pieces int  // content frames sent
	failed bool // the mid-stream failure was injected
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// malformedFrame is a frame whose JSON is cut short.
const malformedFrame = "data: {\"choices\": [{\"delta\": {\"role\": \"assistant\", \"content\": \"\xe4\xbd\n\n"

// runStream sends the SSE response of plan p and reports whether it ended
// normally (finished frame sent).
func (s *Server) runStream(o *out, r *http.Request, p *streamPlan, enc encoder) bool {
	st := &streamer{s: s, o: o, r: r, p: p, enc: enc, buf: bufPool.Get().(*[]byte)}
	defer st.release()
	o.split = p.split
	o.w.Header().Set("Cache-Control", "no-cache")
	o.header(http.StatusOK, "text/event-stream; charset=utf-8")
	ok := st.run()
	if ok && s.opts.SendDone {
		ok = st.sendRaw(sse.Done)
	}
	if ok {
		o.close()
	}
	return ok
}

func (st *streamer) release() {
	if st.timer != nil {
		st.timer.Stop()
	}
	if cap(*st.buf) <= 64<<10 {
		*st.buf = (*st.buf)[:0]
		bufPool.Put(st.buf)
	}
}

func (st *streamer) run() bool {
	if !st.send(frameCreated, 0) {
		return false
	}
	for i := range st.p.search {
		if !st.send(frameSearch, i) {
			return false
		}
	}
	if st.p.think > 0 {
		for i := range st.p.think {
			if !st.content(frameThink, i) {
				return false
			}
		}
		if !st.send(frameThinkEnd, 0) {
			return false
		}
	}
	for i := range st.p.tokens {
		if i == 1 && !st.send(frameEmpty, 0) {
			return false
		}
		if !st.content(frameAnswer, i) {
			return false
		}
	}
	if st.p.tokens <= 1 && !st.send(frameEmpty, 0) {
		return false
	}
	// A failure placed after the last piece happens before the end.
	return st.inject() && st.send(frameEmpty, 0) && st.send(frameFinish, 0)
}

// content sends a content frame, injecting the failure first when its turn
// has come.
func (st *streamer) content(kind frameKind, i int) bool {
	if !st.inject() || !st.send(kind, i) {
		return false
	}
	st.pieces++
	return true
}

// send paces and writes one frame; false means the stream is over.
func (st *streamer) send(kind frameKind, i int) bool {
	b := st.enc.frame((*st.buf)[:0], kind, i)
	*st.buf = b
	if len(b) == 0 {
		return true
	}
	return st.sendRaw(b)
}

func (st *streamer) sendRaw(b []byte) bool {
	if st.sent && !st.pace() {
		return false
	}
	st.sent = true
	return st.o.write(b) == nil
}

// pace waits for the frame delay; false when the client left. When the
// emulator is closed the connection is aborted.
func (st *streamer) pace() bool {
	d := st.p.delay
	if d <= 0 {
		return true
	}
	if st.timer == nil {
		st.timer = time.NewTimer(d)
	} else {
		st.timer.Reset(d)
	}
	select {
	case <-st.timer.C:
		return true
	case <-st.r.Context().Done():
		return false
	case <-st.s.done:
		panic(http.ErrAbortHandler) // the emulator is going away: drop the connection
	}
}

// midStream reports whether mode breaks a started stream.
func midStream(mode string) bool {
	switch mode {
	case ModeQuotaFrame, ModeErrorFrame, ModeContentFilterMid, ModeStallMid, ModeCut, ModeMalformed:
		return true
	}
	return false
}

// inject performs the mid-stream failure once Failure.After content frames
// were sent; false means the stream is over.
func (st *streamer) inject() bool {
	f := st.p.fail
	if st.failed || !midStream(f.Mode) || st.pieces < f.After {
		return true
	}
	st.failed = true
	st.s.stats.fail(f.Mode)
	switch f.Mode {
	case ModeQuotaFrame:
		st.sendRaw(sse.AppendData(nil, []byte(frameQuota)))
	case ModeErrorFrame:
		st.sendRaw(sse.AppendData(nil, []byte(frameGeneric)))
	case ModeContentFilterMid:
		st.sendRaw(sse.AppendData(nil, []byte(frameContentFilter)))
	case ModeStallMid:
		st.s.waitGone(st.r)
		panic(http.ErrAbortHandler)
	case ModeCut:
		panic(http.ErrAbortHandler)
	case ModeMalformed:
		return st.sendRaw([]byte(malformedFrame))
	}
	// After an error frame the upstream closes the stream: no finished frame.
	st.o.close()
	return false
}
