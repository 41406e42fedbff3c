package server

import (
	"io"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// stream serves a streamed answer. Until the answer has begun nothing is
// sent, so a failure keeps its HTTP status and Retry-After (SDKs retry on
// those); after that a failure ends the stream with the surface's error
// event.
func (t *turn) stream() {
	ctx, ri := t.r.Context(), info(t.r.Context())
	st, err := t.s.relay.Open(ctx, t.picker, t.ureq)
	if err != nil {
		t.s.writeError(t.w, t.r, err)
		return
	}
	defer func() { st.Close() }() // st changes when a tool call is asked for again
	enc := t.c.NewStream(t.req, t.meta)
	sw := newSSEWriter(t.w, t.s.opts.HeartbeatInterval, t.s.opts.ClientWriteTimeout, enc)
	defer sw.close()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := enc.Start((*bp)[:0])

	_, finisher := t.c.(api.Finisher)
	var ans answerBuilder    // kept for a Finisher
	var held strings.Builder // answer text held back while a call is required
	var cites []api.Citation // sources sent so far
	hold, tries, first := mustCall(t.req), 0, true
	send := func(ev *api.Event) bool {
		buf = enc.Event(buf, ev)
		ok := sw.write(buf, st.Buffered())
		buf = buf[:0]
		return ok
	}
	flushHeld := func() bool {
		if held.Len() == 0 {
			return true
		}
		text := held.String()
		held.Reset()
		return send(&api.Event{Type: api.EventText, Text: text})
	}
	var end api.End
	for {
		ev, err := st.Next()
		if err == io.EOF {
			res := st.Result()
			t.addUsage(res.Usage)
			ri.attempts, ri.credential, ri.accountID = st.Attempts, st.CredentialID, st.AccountID()
			if hold && len(ans.Calls) == 0 && held.Len() > 0 && tries < t.s.opts.ToolRetries {
				// A call was required and the model answered in prose: ask
				// once more; if that fails, return what it said.
				tries++
				if next, err := t.s.relay.Open(ctx, t.picker, reask(t.ureq, t.req, held.String())); err == nil {
					st.Close()
					st, first = next, false
					held.Reset()
					continue
				}
			}
			end = api.End{FinishReason: finishReason(res, len(ans.Calls)), Usage: t.usage}
			break
		}
		if err != nil {
			ri.attempts, ri.credential, ri.accountID = st.Attempts, st.CredentialID, st.AccountID()
			t.addUsage(st.Result().Usage)
			if upstream.KindOf(err) == upstream.KindContentFilter {
				end = api.End{FinishReason: api.FinishContentFilter, Usage: t.usage}
				break
			}
			sw.stop()
			t.fail(sw, enc, buf, err)
			return
		}
		if first {
			first = false
			ri.ttft = t.s.opts.Now().Sub(ri.start)
			t.s.metrics.TTFT(true, ri.ttft.Seconds())
		}
		aev := neutralEvent(&ev)
		if aev.Type == api.EventCitation {
			n := len(cites)
			if cites = addCitation(cites, aev.Citation); len(cites) == n {
				continue // already sent by an earlier attempt
			}
		}
		if finisher {
			ans.add(&aev)
		} else if aev.Type == api.EventToolCall {
			ans.Calls = append(ans.Calls, *aev.Call)
		}
		if hold && aev.Type == api.EventText {
			held.WriteString(aev.Text)
			continue
		}
		if (aev.Type == api.EventToolCall && !flushHeld()) || !send(&aev) {
			ri.errKind = "client_gone"
			t.s.metrics.StreamEnd("client_gone")
			return
		}
	}
	if !flushHeld() {
		ri.errKind = "client_gone"
		t.s.metrics.StreamEnd("client_gone")
		return
	}
	sw.stop()
	buf = enc.End(buf, &end)
	*bp = buf
	if !sw.finalWrite(buf) {
		ri.errKind = "client_gone"
		t.s.metrics.StreamEnd("client_gone")
		return
	}
	t.s.metrics.StreamEnd("done")
	if finisher {
		t.c.(api.Finisher).Finished(t.req, t.meta, ans.answer(end))
	}
}

// fail ends a committed stream with the surface's error event.
func (t *turn) fail(sw *sseWriter, enc api.StreamEncoder, buf []byte, err error) {
	p := t.s.problem(t.r, err)
	ri := info(t.r.Context())
	ri.errKind = p.LogKind()
	switch {
	case p.Code == "server_shutting_down":
		t.s.metrics.StreamEnd("shutdown") // the writer ends the stream itself (sseWriter.close)
		return
	case p.Status == StatusClientClosed:
		t.s.metrics.StreamEnd("client_gone")
		return
	}
	t.s.metrics.StreamEnd("upstream_error")
	sw.finalWrite(enc.Fail(buf[:0], p))
}

// neutralEvent converts a relay event.
func neutralEvent(ev *upstream.Event) api.Event {
	switch ev.Type {
	case upstream.EventReasoning:
		return api.Event{Type: api.EventReasoning, Text: ev.Text}
	case upstream.EventToolCall:
		return api.Event{Type: api.EventToolCall, Call: ev.Call}
	case upstream.EventCitation:
		return api.Event{Type: api.EventCitation, Citation: ev.Citation}
	}
	return api.Event{Type: api.EventText, Text: ev.Text}
}

// answerBuilder collects a streamed answer for a Finisher (in linear
// time: text and reasoning arrive in many small pieces).
type answerBuilder struct {
	text, reasoning strings.Builder
	api.Answer
}

func (b *answerBuilder) add(ev *api.Event) {
	switch ev.Type {
	case api.EventText:
		b.text.WriteString(ev.Text)
	case api.EventReasoning:
		b.reasoning.WriteString(ev.Text)
	case api.EventToolCall:
		b.Calls = append(b.Calls, *ev.Call)
	case api.EventCitation:
		b.Citations = addCitation(b.Citations, ev.Citation)
	}
}

// answer returns the whole answer with its end.
func (b *answerBuilder) answer(end api.End) *api.Answer {
	a := b.Answer
	a.Text, a.Reasoning, a.End = b.text.String(), b.reasoning.String(), end
	return &a
}

// addCitation appends c unless its URL is already listed (a retried
// attempt lists its sources again).
func addCitation(list []api.Citation, c *api.Citation) []api.Citation {
	for i := range list {
		if list[i].URL == c.URL {
			return list
		}
	}
	return append(list, *c)
}
