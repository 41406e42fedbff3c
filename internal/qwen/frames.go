package qwen

import (
	"bytes"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// The frame hot path reads each payload in place: the SSE decoder's buffer is
// viewed as a string without copying (view), gjson slices it without
// allocating, and only text that leaves the call is copied (own). A typical
// answer frame costs one allocation: its text.

// view returns b as a string sharing its memory. The result must not outlive
// the next decoder read; see own.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// own returns s, copied when it points into buf (gjson returns unescaped
// strings in fresh memory, escaped ones as slices of the input).
func own(s string, buf []byte) string {
	if s == "" || len(buf) == 0 {
		return s
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	if p >= lo && p < lo+uintptr(len(buf)) {
		return strings.Clone(s)
	}
	return s
}

var doneMarker = []byte("[DONE]")

func isDone(data []byte) bool { return bytes.Equal(bytes.TrimSpace(data), doneMarker) }

// topLevel is what a frame carries at its top level.
type topLevel struct {
	choices  gjson.Result
	usage    gjson.Result
	created  gjson.Result // the "response.created" object
	response gjson.Result // the frame's "response_id"
	failed   bool         // error / ret / success:false: classify the whole frame
}

// parseTop validates one payload and picks its top-level members.
func parseTop(js string) (topLevel, error) {
	var t topLevel
	if !gjson.Valid(js) {
		return t, badFrame(js)
	}
	root := gjson.Parse(js)
	if !root.IsObject() {
		return t, badFrame(js)
	}
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "choices":
			t.choices = v
		case "usage":
			t.usage = v
		case "response.created":
			t.created = v
		case "response_id":
			t.response = v
		case "error", "ret":
			t.failed = t.failed || (v.Type != gjson.Null && v.Raw != "[]")
		case "success":
			t.failed = t.failed || v.Type == gjson.False
		}
		return true
	})
	return t, nil
}

func badFrame(js string) error {
	return &upstream.Error{Kind: upstream.KindBadResponse, Message: "malformed upstream frame: " + strings.Clone(snippet(js, 120))}
}

// delta is the part of choices[0] the parsers use.
type delta struct {
	content, phase, status, role, name, finish gjson.Result
	extra                                      gjson.Result
}

func parseDelta(choices gjson.Result) (d delta, ok bool) {
	if !choices.IsArray() {
		return d, false
	}
	var c0 gjson.Result
	choices.ForEach(func(_, v gjson.Result) bool { c0 = v; return false })
	if !c0.IsObject() {
		return d, false
	}
	c0.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "delta", "message":
			ok = v.IsObject()
			if ok {
				v.ForEach(func(k, v gjson.Result) bool {
					d.set(k.Str, v)
					return true
				})
			}
		case "finish_reason":
			if v.Type == gjson.String && d.finish.Str == "" {
				d.finish = v
			}
		}
		return true
	})
	return d, ok
}

func (d *delta) set(key string, v gjson.Result) {
	switch key {
	case "content":
		d.content = v
	case "phase":
		d.phase = v
	case "status":
		d.status = v
	case "role":
		d.role = v
	case "name":
		d.name = v
	case "finish_reason":
		if v.Type == gjson.String {
			d.finish = v
		}
	case "extra":
		d.extra = v
	}
}

// foreign reports frames that are not assistant text: tool/function roles
// and web_search entries (docs/qwen-protocol.md §3.5).
func (d *delta) foreign() bool {
	if r := d.role.Str; r != "" && r != "assistant" {
		return true
	}
	return d.name.Str == "web_search"
}

// v2Handler parses /api/v2 frames (docs/qwen-protocol.md §3.3, §3.4).
type v2Handler struct {
	done      bool
	lastImage string // the last image URL emitted (image_gen frames, images.go)
	images    bool   // the request is t2i or image_edit: image_gen frames are the answer
	summary   []byte // thinking_summary text emitted so far (joined thoughts)
	acc       usageAcc
	resp      responseFilter
	// hideReasoning drops reasoning text: thinking was forced on for a
	// request that asked for it off (§11.3).
	hideReasoning bool
}

func (h *v2Handler) finished() bool { return h.done }

func (h *v2Handler) usage() upstream.Usage { return h.acc.result() }

// responseFilter keeps one answer of a stream. The upstream may interleave
// two candidate answers, each announced by its own response.created frame
// and carrying its response_id on every frame (docs/qwen-protocol.md
// §11.4): the first announced response id is kept and, once a second one
// was announced, frames naming another id are dropped. A stream with a
// single response.created is never filtered, so an id spelled differently
// in its frames cannot cost the answer. Frames without a response id (error
// frames) are kept.
type responseFilter struct {
	id    string // the first announced response id
	multi bool   // another response.created was seen
}

// keep reports whether the frame belongs to the kept answer.
func (f *responseFilter) keep(top *topLevel, data []byte) bool {
	if top.created.Exists() {
		id := top.created.Get("response_id")
		switch {
		case id.Type != gjson.String || id.Str == "":
		case f.id == "":
			f.id = own(id.Str, data)
		case id.Str != f.id:
			f.multi = true
		}
		return false // a created frame carries no content
	}
	if !f.multi || top.response.Type != gjson.String || top.response.Str == "" {
		return true
	}
	return top.response.Str == f.id
}

// openFrame is what every frame of both protocols needs first: it notes
// [DONE], turns error frames into errors, drops frames of another answer
// (rf, v2 only), records usage, and returns the assistant delta to handle
// (ok false when there is none).
func openFrame(data []byte, done *bool, acc *usageAcc, rf *responseFilter) (d delta, ok bool, err error) {
	if isDone(data) {
		*done = true
		return d, false, nil
	}
	top, err := parseTop(view(data))
	if err != nil {
		return d, false, err
	}
	if rf != nil && !rf.keep(&top, data) {
		return d, false, nil
	}
	if top.failed {
		return d, false, classifyFrame(data)
	}
	if top.usage.IsObject() {
		acc.record(top.usage)
	}
	d, ok = parseDelta(top.choices)
	return d, ok && !d.foreign(), nil
}

func (h *v2Handler) frame(s *stream, data []byte) error {
	d, ok, err := openFrame(data, &h.done, &h.acc, &h.resp)
	if err == nil {
		s.cite(d.extra)
	}
	if !ok {
		return err
	}
	switch phase := d.phase.Str; phase {
	case "answer", "":
		s.emit(upstream.EventContent, own(d.content.Str, data))
		if d.finish.Str != "" {
			s.res.FinishReason = strings.Clone(d.finish.Str)
		}
		if d.status.Str == "finished" {
			h.done = true
		}
	case "think", "thinking":
		h.reason(s, own(d.content.Str, data))
	case "thinking_summary":
		h.reason(s, h.summaryDelta(d.extra))
	case "image_gen":
		if h.images { // a chat's stray image_gen frames stay ignored
			h.image(s, d)
		}
	}
	return nil
}

func (h *v2Handler) reason(s *stream, text string) {
	if h.hideReasoning {
		s.reasoning = s.reasoning || text != ""
		return
	}
	s.emit(upstream.EventReasoning, text)
}

// summaryDelta returns what the cumulative summary_thought array adds to the
// text already emitted. The array's items are joined with a blank line, as
// RS does. A rewrite of text already sent cannot be taken back: then only
// the part after the common prefix is emitted.
func (h *v2Handler) summaryDelta(extra gjson.Result) string {
	arr := extra.Get("summary_thought.content")
	if !arr.IsArray() {
		return ""
	}
	pos, diverged := 0, false
	var out []byte
	first := true
	arr.ForEach(func(_, v gjson.Result) bool {
		if v.Type != gjson.String {
			return true
		}
		piece := v.Str
		if !first {
			piece = "\n\n" + piece // rare: once per paragraph
		}
		first = false
		if !diverged && pos < len(h.summary) {
			n := commonPrefix(h.summary[pos:], piece)
			pos += n
			if n == len(piece) {
				return true
			}
			if pos < len(h.summary) {
				diverged = true // rewritten: keep what was sent, append the new tail
			}
			piece = piece[n:]
		}
		out = append(out, piece...)
		return true
	})
	if len(out) == 0 {
		return ""
	}
	if diverged {
		h.summary = h.summary[:pos]
	}
	h.summary = append(h.summary, out...)
	return string(out)
}

// commonPrefix returns the length of the common prefix of a and b, backed
// off to a UTF-8 character boundary of b.
func commonPrefix(a []byte, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	if n < len(b) {
		for n > 0 && b[n]&0xC0 == 0x80 {
			n--
		}
	}
	return n
}

// usageAcc keeps the last cumulative usage. Parsing numbers on every frame
// is a large share of the frame cost, so only the raw JSON is kept (in
// reused buffers) and parsed once at the end. The doc is unsure whether late
// frames drop sub-fields: the last usage that reported reasoning_tokens is
// kept too and fills the gap.
type usageAcc struct{ last, reasoning []byte }

func (a *usageAcc) record(u gjson.Result) {
	a.last = append(a.last[:0], u.Raw...)
	if strings.Contains(u.Raw, "reasoning_tokens") {
		a.reasoning = append(a.reasoning[:0], u.Raw...)
	}
}

func (a *usageAcc) result() upstream.Usage {
	var out upstream.Usage
	gjson.ParseBytes(a.last).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "input_tokens", "prompt_tokens":
			out.PromptTokens = int(v.Int())
		case "output_tokens", "completion_tokens":
			out.CompletionTokens = int(v.Int())
		case "total_tokens":
			out.TotalTokens = int(v.Int())
		case "output_tokens_details", "completion_tokens_details":
			out.ReasoningTokens = int(v.Get("reasoning_tokens").Int())
		case "prompt_tokens_details", "input_tokens_details":
			if r := v.Get("cached_tokens"); r.Exists() {
				out.CachedTokens = int(r.Int())
			}
		}
		return true
	})
	if out.ReasoningTokens == 0 && len(a.reasoning) > 0 {
		r := gjson.GetBytes(a.reasoning, "output_tokens_details.reasoning_tokens")
		if !r.Exists() {
			r = gjson.GetBytes(a.reasoning, "completion_tokens_details.reasoning_tokens")
		}
		out.ReasoningTokens = int(r.Int())
	}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.PromptTokens + out.CompletionTokens
	}
	return out
}

func (h *v2Handler) end(s *stream) error {
	switch {
	case !h.done:
		return &upstream.Error{Kind: upstream.KindNetwork,
			Message: "the upstream stream ended before its finished frame"}
	case s.content:
		return nil
	case s.reasoning:
		return &upstream.Error{Kind: upstream.KindEmpty, Message: "the upstream finished thinking without an answer"}
	}
	return &upstream.Error{Kind: upstream.KindEmpty, Message: "the upstream finished without any content"}
}
