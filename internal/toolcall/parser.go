package toolcall

import (
	"crypto/rand"
	"slices"
	"strings"
)

// Phase tells which part of the upstream answer a piece of text belongs to.
type Phase uint8

const (
	// Answer is the visible answer.
	Answer Phase = iota
	// Thinking is the reasoning phase.
	Thinking
)

// EventType tells what an Event carries.
type EventType uint8

const (
	// Text is answer text (Event.Text).
	Text EventType = iota + 1
	// Reasoning is thinking-phase text (Event.Text).
	Reasoning
	// CallStart opens a call: Event.Call has Index, ID, Name and Custom.
	CallStart
	// CallArgs carries the call's arguments in Event.Text: the JSON object
	// of a function tool, the raw input of a custom tool. The Parser sends
	// them whole, in one event, once the block closed and validated.
	CallArgs
	// CallEnd closes a call; Event.Call is complete.
	CallEnd
)

// Event is one output of the Parser.
type Event struct {
	Type EventType
	Text string
	Call Call
}

// IDFunc makes a new call id.
type IDFunc func() string

// NewID is the default IDFunc: "call_" and 24 random base32 characters.
func NewID() string { return "call_" + rand.Text()[:24] }

// Parser turns the streamed text of one answer into text, reasoning and tool
// calls (see the package comment for the formats and rules). It is used by
// one goroutine; Feed and Close return the events produced by that call.
type Parser struct {
	tools    map[string]*toolInfo
	choice   Choice
	parallel bool
	newID    IDFunc

	started, closed bool
	phase           Phase
	split           *Splitter
	inBlock         bool
	block           blockScanner
	out             []Event

	// Answer phase: whitespace touching a call block is dropped. wsHold
	// holds trailing whitespace until we know what follows it; afterCall
	// drops the whitespace that starts the text after a call.
	wsHold    string
	afterCall bool

	// Thinking phase: a call is accepted only when it stands alone, so
	// whitespace and valid blocks are held (aloneRaw, byte-exact) until the
	// phase ends or other text shows up.
	alone      bool
	aloneRaw   strings.Builder
	aloneCalls []parsed
	thinkCalls []parsed // accepted from thinking, to drop repeats in the answer

	calls, dropped int
	// sawCall: the answer held a valid call block. stopped: after one, the
	// model began inventing a <tool_response>; the rest is dropped.
	sawCall, stopped bool
}

// responseTag starts a tool result; in the answer, after a call, it means the
// model is inventing the result instead of waiting for it.
const responseTag = "<tool_response>"

// NewParser returns a Parser for the declared tools, honouring choice and
// parallel (false: only the first call is returned). newID may be nil
// (NewID).
func NewParser(tools []Tool, choice Choice, parallel bool, newID IDFunc) *Parser {
	if newID == nil {
		newID = NewID
	}
	return &Parser{
		tools:    index(tools),
		choice:   choice,
		parallel: parallel,
		newID:    newID,
		split:    NewSplitter(openTag, responseTag),
		alone:    true,
	}
}

// Feed parses the next piece of the answer in the given phase. A change of
// phase ends the previous phase's text: a tag cannot span two phases. The
// returned slice is reused: it is valid until the next Feed or Close.
func (p *Parser) Feed(phase Phase, text string) []Event {
	if p.closed || p.stopped {
		return nil
	}
	p.out = p.out[:0]
	if p.started && phase != p.phase {
		p.endPhase()
	}
	p.started, p.phase = true, phase
	p.consume(text)
	return p.out
}

// Close ends the answer: held bytes come back as text, a block that never
// closed becomes a call if it is one anyway, else text. The returned slice is
// valid until the next call.
func (p *Parser) Close() []Event {
	if p.closed {
		return nil
	}
	p.out = p.out[:0]
	if !p.stopped {
		p.endPhase()
	}
	p.closed = true
	return p.out
}

// Stopped reports that, after its calls, the model began inventing their
// results (a <tool_response> in the answer). That text and everything after
// it is dropped; the caller may stop reading the upstream and finish.
func (p *Parser) Stopped() bool { return p.stopped }

// stop drops the rest of the answer.
func (p *Parser) stop() {
	p.stopped = true
	p.wsHold, p.inBlock = "", false
	p.split.Flush()
}

// CallsMade is the number of calls returned so far.
func (p *Parser) CallsMade() int { return p.calls }

// CallsDropped is the number of valid calls withheld by tool_choice or
// parallel_tool_calls (or repeated from the thinking phase).
func (p *Parser) CallsDropped() int { return p.dropped }

// RequiredUnmet reports whether the choice demanded a call (required or a
// named function) and none was returned: the caller may ask once more with
// Reminder (docs/qwen-protocol.md §11: narration instead of a call).
func (p *Parser) RequiredUnmet() bool {
	return (p.choice.Mode == Required || p.choice.Mode == Function) && p.calls == 0
}

func (p *Parser) consume(text string) {
	for {
		if p.inBlock {
			inner, rest, closed := p.block.feed(text)
			if !closed {
				return
			}
			p.inBlock = false
			p.closedBlock(inner)
			text = rest
		}
		out, tag, rest := p.split.Next(text)
		p.text(out)
		if tag < 0 {
			return
		}
		if tag == 1 { // responseTag
			if p.phase == Answer && p.sawCall {
				p.stop()
				return
			}
			p.text(responseTag)
			text = rest
			continue
		}
		p.inBlock = true
		p.block.reset()
		text = rest
	}
}

// closedBlock handles a block that has its closing tag. When it is not a call
// but holds a nested "<tool_call>", the model restarted the call: the part
// before the last opening tag is text and the rest is tried as the block.
func (p *Parser) closedBlock(inner string) {
	for {
		if cs, ok := parseBlock(inner, p.tools); ok {
			p.callBlock(cs, openTag+inner+closeTag)
			return
		}
		j := strings.LastIndex(inner, openTag)
		if j < 0 {
			p.text(openTag + inner + closeTag)
			return
		}
		p.text(openTag + inner[:j])
		inner = inner[j+len(openTag):]
	}
}

// endPhase finishes the current phase's text.
func (p *Parser) endPhase() {
	for p.inBlock {
		p.inBlock = false
		p.unclosed(p.block.content())
	}
	p.text(p.split.Flush())
	if p.phase == Thinking {
		p.endThinking()
		return
	}
	if p.wsHold != "" {
		p.emit(Event{Type: Text, Text: p.wsHold})
		p.wsHold = ""
	}
	p.afterCall = false
}

// unclosed handles a block that never got its closing tag. It is a call if
// only the closing tag is missing; or if it holds a closing tag the scanner
// skipped (e.g. after a value missing its "</parameter>") and what precedes
// that tag is a call; else it is text, tried again after a nested
// "<tool_call>" as closedBlock does.
func (p *Parser) unclosed(content string) {
	for {
		if cs, ok := parseBlock(content, p.tools); ok {
			p.callBlock(cs, openTag+content)
			return
		}
		if i := strings.Index(content, closeTag); i >= 0 {
			if cs, ok := parseBlock(content[:i], p.tools); ok {
				p.callBlock(cs, openTag+content[:i+len(closeTag)])
				p.consume(content[i+len(closeTag):])
				return
			}
		}
		j := strings.LastIndex(content, openTag)
		if j < 0 {
			p.text(openTag + content)
			return
		}
		p.text(openTag + content[:j])
		content = content[j+len(openTag):]
	}
}

// text handles text outside call blocks.
func (p *Parser) text(s string) {
	if s == "" {
		return
	}
	if p.phase == Thinking {
		p.thinkingText(s)
		return
	}
	if p.afterCall {
		if s = trimLeftWS(s); s == "" {
			return
		}
		p.afterCall = false
	}
	t := trimRightWS(s)
	if t == "" {
		p.wsHold += s
		return
	}
	tail := s[len(t):]
	if p.wsHold != "" {
		t = p.wsHold + t
	}
	p.wsHold = tail
	p.emit(Event{Type: Text, Text: t})
}

func isWS(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func trimLeftWS(s string) string {
	i := 0
	for i < len(s) && isWS(s[i]) {
		i++
	}
	return s[i:]
}

func trimRightWS(s string) string {
	i := len(s)
	for i > 0 && isWS(s[i-1]) {
		i--
	}
	return s[:i]
}

// callBlock handles a block of valid calls to declared tools.
func (p *Parser) callBlock(cs []parsed, raw string) {
	if p.phase == Thinking {
		if !p.alone {
			p.emit(Event{Type: Reasoning, Text: raw})
			return
		}
		p.aloneRaw.WriteString(raw)
		p.aloneCalls = append(p.aloneCalls, cs...)
		return
	}
	p.wsHold, p.afterCall, p.sawCall = "", true, true
	for _, c := range cs {
		if slices.Contains(p.thinkCalls, c) {
			p.dropped++
			continue
		}
		p.accept(c)
	}
}

func (p *Parser) thinkingText(s string) {
	if !p.alone {
		p.emit(Event{Type: Reasoning, Text: s})
		return
	}
	if trimLeftWS(s) == "" {
		p.aloneRaw.WriteString(s)
		return
	}
	// Not alone: what was held is plain reasoning after all.
	p.alone = false
	p.aloneCalls = p.aloneCalls[:0]
	if p.aloneRaw.Len() > 0 {
		s = p.aloneRaw.String() + s
		p.aloneRaw.Reset()
	}
	p.emit(Event{Type: Reasoning, Text: s})
}

// endThinking accepts the calls that stood alone in the thinking phase.
func (p *Parser) endThinking() {
	if p.alone && len(p.aloneCalls) > 0 {
		p.sawCall = true
		for _, c := range p.aloneCalls {
			p.thinkCalls = append(p.thinkCalls, c)
			p.accept(c)
		}
	} else if p.aloneRaw.Len() > 0 {
		p.emit(Event{Type: Reasoning, Text: p.aloneRaw.String()})
	}
	p.aloneRaw.Reset()
	p.aloneCalls = p.aloneCalls[:0]
	p.alone = true
}

// accept applies tool_choice and parallel_tool_calls, then returns the call.
func (p *Parser) accept(c parsed) {
	if p.choice.Mode == None ||
		(p.choice.Mode == Function && c.name != p.choice.Name) ||
		(!p.parallel && p.calls > 0) {
		p.dropped++
		return
	}
	call := Call{Index: p.calls, ID: p.newID(), Name: c.name, Custom: c.custom}
	p.calls++
	p.emit(Event{Type: CallStart, Call: call})
	args := c.args
	if c.custom {
		args = c.input
	}
	p.emit(Event{Type: CallArgs, Text: args, Call: call})
	call.Arguments, call.Input = c.args, c.input
	p.emit(Event{Type: CallEnd, Call: call})
}

func (p *Parser) emit(e Event) { p.out = append(p.out, e) }
