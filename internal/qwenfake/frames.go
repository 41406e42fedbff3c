package qwenfake

import (
	"cmp"
	"strconv"
	"time"
)

// frameKind names the frames of a stream.
type frameKind int

const (
	frameCreated  frameKind = iota // response.created
	frameThink                     // i-th reasoning piece
	frameThinkEnd                  // end of the reasoning phase
	frameAnswer                    // i-th answer piece
	frameEmpty                     // typing frame without content
	frameFinish                    // final frame
	frameSearch                    // i-th web_search frame (search.go)
)

// Reasoning formats of a stream.
const (
	thinkNone    = iota
	thinkDetail  // phase "think", incremental content
	thinkSummary // phase "thinking_summary", cumulative arrays in extra
)

// encoder appends one frame (a complete "data: …\n\n" event) to b; an empty
// result means the format has no such frame.
type encoder interface {
	frame(b []byte, kind frameKind, i int) []byte
}

// streamPlan is everything a stream needs, decided before it starts.
type streamPlan struct {
	seed        string
	tokens      int
	think       int // reasoning pieces; 0 = no reasoning phase
	search      int // web_search frames before the answer; 0 = no search
	thinkFmt    int
	phase       bool // send delta.phase
	input       int  // input tokens
	chatID      string
	parentID    string // user message id
	responseID  string
	index       string // response_index of response.created ("0", "1" for a second candidate)
	dual        bool   // interleave a second candidate answer (docs/qwen-protocol.md §11.4)
	delay       time.Duration
	split       int
	fail        Failure
	incremental bool // era 1 only

	// A scripted answer (tool calls, echo) replaces the vocabulary pieces:
	// answer and reasoning hold the JSON-escaped frame contents, text the
	// answer text. tokens and think are their lengths.
	answer    [][]byte
	reasoning [][]byte
	text      string
}

// answerPiece is the JSON-escaped content of answer frame i.
func (p *streamPlan) answerPiece(h uint64, i int) []byte {
	if p.answer != nil {
		return p.answer[i]
	}
	return pieceAt(h, i).json
}

// reasoningPiece is the JSON-escaped content of reasoning frame i.
func (p *streamPlan) reasoningPiece(h uint64, i int) []byte {
	if p.reasoning != nil {
		return p.reasoning[i]
	}
	return pieceAt(h, i).json
}

// answerText is the whole answer of the plan.
func (p *streamPlan) answerText() string {
	if p.answer != nil {
		return p.text
	}
	return AnswerText(p.seed, p.tokens)
}

// v2Encoder writes the /api/v2 frames of §3.3 and §3.4, with the Python
// json.dumps spacing of the captures.
type v2Encoder struct {
	p         *streamPlan
	now       func() time.Time
	hAnswer   uint64
	hReason   uint64
	hTitle    uint64
	reasoning int    // reasoning tokens so far
	output    int    // output tokens so far (reasoning included)
	titles    []byte // summary_title array items so far
	thoughts  []byte // summary_thought array items so far, last one unterminated
}

func newV2Encoder(p *streamPlan, now func() time.Time) *v2Encoder {
	h := seedHash(p.seed)
	return &v2Encoder{p: p, now: now, hAnswer: h ^ saltAnswer, hReason: h ^ saltReasoning, hTitle: h}
}

const (
	deltaHead   = `data: {"choices": [{"delta": {"role": "assistant", "content": "`
	typingTail  = `, "status": "typing"}}], "response_id": "`
	finishedMid = `, "status": "finished"}}], "response_id": "`
)

func (e *v2Encoder) frame(b []byte, kind frameKind, i int) []byte {
	switch kind {
	case frameCreated:
		b = append(b, `data: {"response.created":{"chat_id": "`...)
		b = append(b, e.p.chatID...)
		b = append(b, `", "parent_id": "`...)
		b = append(b, e.p.parentID...)
		b = append(b, `", "response_id":"`...)
		b = append(b, e.p.responseID...)
		b = append(b, `", "response_index": "`...)
		b = append(b, cmp.Or(e.p.index, "0")...)
		return append(b, "\"}}\n\n"...)
	case frameThink:
		e.reasoning++
		e.output++
		if e.p.thinkFmt == thinkDetail {
			return e.typing(append(b, deltaHead...), e.p.reasoningPiece(e.hReason, i), "think")
		}
		return e.summary(b, i)
	case frameThinkEnd:
		b = append(b, deltaHead...)
		b = append(b, '"')
		b = e.phase(b, e.thinkPhase())
		b = append(b, finishedMid...)
		b = append(b, e.p.responseID...)
		b = append(b, `", "timestamp": `...)
		b = strconv.AppendInt(b, e.now().Unix(), 10)
		return append(b, "}\n\n"...)
	case frameAnswer:
		e.output++
		return e.typing(append(b, deltaHead...), e.p.answerPiece(e.hAnswer, i), "answer")
	case frameEmpty:
		return e.typing(append(b, deltaHead...), nil, "answer")
	case frameSearch:
		return e.searchFrame(b, i)
	case frameFinish:
		b = append(b, `data: {"choices": [{"delta": {"content": "", "role": "assistant", "status": "finished"`...)
		b = e.phase(b, "answer")
		b = append(b, `}}], "response_id": "`...)
		b = append(b, e.p.responseID...)
		return append(b, "\"}\n\n"...)
	}
	return b
}

func (e *v2Encoder) thinkPhase() string {
	if e.p.thinkFmt == thinkDetail {
		return "think"
	}
	return "thinking_summary"
}

func (e *v2Encoder) phase(b []byte, phase string) []byte {
	if !e.p.phase {
		return b
	}
	b = append(b, `, "phase": "`...)
	b = append(b, phase...)
	return append(b, '"')
}

// typing finishes a typing frame whose content starts after deltaHead.
func (e *v2Encoder) typing(b, content []byte, phase string) []byte {
	b = append(b, content...)
	b = append(b, '"')
	b = e.phase(b, phase)
	return e.tail(b)
}

// summary is a thinking_summary frame: both arrays resent whole.
func (e *v2Encoder) summary(b []byte, i int) []byte {
	if i%summaryParagraph == 0 {
		j := i / summaryParagraph
		if j > 0 {
			e.titles = append(e.titles, ", "...)
			e.thoughts = append(e.thoughts, `", `...)
		}
		e.titles = append(e.titles, '"')
		e.titles = append(e.titles, titleAt(e.hTitle, j).json...)
		e.titles = append(e.titles, '"')
		e.thoughts = append(e.thoughts, '"')
	}
	e.thoughts = append(e.thoughts, pieceAt(e.hReason, i).json...)
	b = append(b, deltaHead...)
	b = append(b, '"')
	b = e.phase(b, "thinking_summary")
	b = append(b, `, "extra": {"summary_title": {"content": [`...)
	b = append(b, e.titles...)
	b = append(b, `]}, "summary_thought": {"content": [`...)
	b = append(b, e.thoughts...)
	b = append(b, `"]}}`...)
	return e.tail(b)
}

// tail closes a typing frame: status, response id, cumulative usage and
// timestamp.
func (e *v2Encoder) tail(b []byte) []byte {
	b = append(b, typingTail...)
	b = append(b, e.p.responseID...)
	b = append(b, `", "usage": {"input_tokens": `...)
	b = strconv.AppendInt(b, int64(e.p.input), 10)
	b = append(b, `, "output_tokens": `...)
	b = strconv.AppendInt(b, int64(e.output), 10)
	b = append(b, `, "characters": 0, "total_tokens": `...)
	b = strconv.AppendInt(b, int64(e.p.input+e.output), 10)
	b = append(b, `, "input_tokens_details": {"text_tokens": `...)
	b = strconv.AppendInt(b, int64(e.p.input), 10)
	b = append(b, `}, "output_tokens_details": {`...)
	if e.p.thinkFmt != thinkNone {
		b = append(b, `"reasoning_tokens": `...)
		b = strconv.AppendInt(b, int64(e.reasoning), 10)
		b = append(b, ", "...)
	}
	b = append(b, `"text_tokens": `...)
	b = strconv.AppendInt(b, int64(e.output), 10)
	b = append(b, `}, "prompt_tokens_details": {"cached_tokens": 0}}, "timestamp": `...)
	b = strconv.AppendInt(b, e.now().Unix(), 10)
	return append(b, "}\n\n"...)
}

// legacyEncoder writes era-1 frames (§2.3, §2.4): OpenAI-like chunks whose
// delta.content is cumulative, or incremental with delta.phase when the
// request asked for incremental_output.
type legacyEncoder struct {
	p       *streamPlan
	hAnswer uint64
	hReason uint64
	cum     []byte // escaped cumulative text
}

func newLegacyEncoder(p *streamPlan) *legacyEncoder {
	h := seedHash(p.seed)
	return &legacyEncoder{p: p, hAnswer: h ^ saltAnswer, hReason: h ^ saltReasoning}
}

var (
	escThinkOpen  = appendJSONString(nil, legacyThinkOpen, false)
	escThinkClose = appendJSONString(nil, legacyThinkClose, false)
)

func (e *legacyEncoder) frame(b []byte, kind frameKind, i int) []byte {
	var content []byte
	phase := "answer"
	switch kind {
	case frameThink:
		content, phase = e.p.reasoningPiece(e.hReason, i), "think"
		if i == 0 && !e.p.incremental {
			e.cum = append(e.cum, escThinkOpen...)
		}
	case frameThinkEnd:
		if e.p.incremental {
			return b
		}
		content = escThinkClose
	case frameAnswer:
		content = e.p.answerPiece(e.hAnswer, i)
	default:
		return b // era 1 has no created, empty or finished frames
	}
	b = append(b, `data: {"choices":[{"delta":{"content":"`...)
	if e.p.incremental {
		b = append(b, content...)
		b = append(b, `","phase":"`...)
		b = append(b, phase...)
		return append(b, "\"}}]}\n\n"...)
	}
	e.cum = append(e.cum, content...)
	b = append(b, e.cum...)
	return append(b, "\"}}]}\n\n"...)
}
