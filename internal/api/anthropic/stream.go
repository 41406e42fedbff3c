package anthropic

import (
	"encoding/json"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// blockKind is the kind of the content block open in a stream.
type blockKind uint8

const (
	blockNone blockKind = iota
	blockThinking
	blockText
)

// streamEncoder renders one streamed answer (the sequence is in the
// package doc). It is used by one goroutine.
type streamEncoder struct {
	meta          api.Meta
	req           *api.Request
	inputEstimate int
	cites         []api.Citation // sources not yet written (searchBlocks)
	searches      int            // search block pairs written
	open          blockKind
	next          int // index of the next block
}

var _ api.StreamEncoder = (*streamEncoder)(nil)

// Wire shapes of the stream events; each JSON carries its event name as
// "type".
type (
	messageStart struct {
		Type    string      `json:"type"`
		Message wireMessage `json:"message"`
	}
	blockStart struct {
		Type         string    `json:"type"`
		Index        int       `json:"index"`
		ContentBlock wireBlock `json:"content_block"`
	}
	blockDelta struct {
		Type  string    `json:"type"`
		Index int       `json:"index"`
		Delta wireDelta `json:"delta"`
	}
	wireDelta struct {
		Type        string  `json:"type"`
		Text        *string `json:"text,omitempty"`
		Thinking    *string `json:"thinking,omitempty"`
		Signature   *string `json:"signature,omitempty"`
		PartialJSON *string `json:"partial_json,omitempty"`
	}
	blockStop struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	messageDelta struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage wireUsage `json:"usage"`
	}
	typeOnly struct {
		Type string `json:"type"`
	}
)

// frame appends one SSE frame: "event: NAME\ndata: JSON\n\n".
func frame(dst []byte, name string, v any) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, marshal(v)...)
	return append(dst, "\n\n"...)
}

// Start writes message_start: the message with no content yet and the
// input estimate (the upstream's count comes in message_delta).
func (s *streamEncoder) Start(dst []byte) []byte {
	msg := wireMessage{ID: s.meta.ID, Type: "message", Role: "assistant", Model: s.meta.Model,
		Content: []wireBlock{}, Usage: wireUsage{InputTokens: s.inputEstimate}}
	return frame(dst, "message_start", messageStart{Type: "message_start", Message: msg})
}

// Event renders one neutral event.
func (s *streamEncoder) Event(dst []byte, ev *api.Event) []byte {
	if ev == nil {
		return dst
	}
	if ev.Type == api.EventCitation {
		if ev.Citation != nil {
			s.cites = append(s.cites, *ev.Citation)
		}
		return dst
	}
	dst = s.flushSearch(dst)
	switch ev.Type {
	case api.EventReasoning:
		if ev.Text == "" {
			return dst
		}
		if s.open != blockThinking {
			dst = s.closeBlock(dst)
			empty, sig := "", ""
			dst = s.startBlock(dst, wireBlock{Type: "thinking", Thinking: &empty, Signature: &sig}, blockThinking)
		}
		text := ev.Text
		return s.delta(dst, wireDelta{Type: "thinking_delta", Thinking: &text})
	case api.EventText:
		if ev.Text == "" {
			return dst
		}
		if s.open != blockText {
			dst = s.closeBlock(dst)
			empty := ""
			dst = s.startBlock(dst, wireBlock{Type: "text", Text: &empty}, blockText)
		}
		text := ev.Text
		return s.delta(dst, wireDelta{Type: "text_delta", Text: &text})
	case api.EventToolCall:
		if ev.Call == nil {
			return dst
		}
		return s.toolUse(dst, ev)
	}
	return dst
}

// toolUse renders a whole call as its own block: start (input {}), the
// input in one input_json_delta, stop.
func (s *streamEncoder) toolUse(dst []byte, ev *api.Event) []byte {
	dst = s.closeBlock(dst)
	c := ev.Call
	dst = s.startBlock(dst, wireBlock{Type: "tool_use", ID: toolUseID(s.meta, c), Name: c.Name, Input: json.RawMessage("{}")}, blockNone)
	input := string(toolInput(c))
	dst = s.delta(dst, wireDelta{Type: "input_json_delta", PartialJSON: &input})
	return s.stop(dst)
}

func (s *streamEncoder) startBlock(dst []byte, b wireBlock, kind blockKind) []byte {
	s.open = kind
	return frame(dst, "content_block_start", blockStart{Type: "content_block_start", Index: s.next, ContentBlock: b})
}

func (s *streamEncoder) delta(dst []byte, d wireDelta) []byte {
	return frame(dst, "content_block_delta", blockDelta{Type: "content_block_delta", Index: s.next, Delta: d})
}

// stop closes the current block; the next one gets the next index.
func (s *streamEncoder) stop(dst []byte) []byte {
	dst = frame(dst, "content_block_stop", blockStop{Type: "content_block_stop", Index: s.next})
	s.next++
	s.open = blockNone
	return dst
}

// closeBlock closes the open thinking or text block, if any; a thinking
// block gets its signature first.
func (s *streamEncoder) closeBlock(dst []byte) []byte {
	switch s.open {
	case blockNone:
		return dst
	case blockThinking:
		sig := signature
		dst = s.delta(dst, wireDelta{Type: "signature_delta", Signature: &sig})
	}
	return s.stop(dst)
}

// End closes the open block and writes message_delta (stop reason and the
// whole usage, which the SDKs take over message_start's) and message_stop.
func (s *streamEncoder) End(dst []byte, end *api.End) []byte {
	dst = s.flushSearch(dst)
	dst = s.closeBlock(dst)
	if end == nil {
		end = &api.End{}
	}
	md := messageDelta{Type: "message_delta", Usage: usageOf(end)}
	md.Delta.StopReason = stopReason(end.FinishReason)
	dst = frame(dst, "message_delta", md)
	return frame(dst, "message_stop", typeOnly{Type: "message_stop"})
}

// Fail writes an error event; Anthropic's stream ends with it.
func (s *streamEncoder) Fail(dst []byte, p *api.Problem) []byte {
	if p == nil {
		p = &api.Problem{Class: api.ClassServer, Message: "internal error"}
	}
	_, body := errorBody(p)
	dst = append(dst, "event: error\ndata: "...)
	dst = append(dst, body...)
	return append(dst, "\n\n"...)
}

// Heartbeat writes a ping event.
func (s *streamEncoder) Heartbeat(dst []byte) []byte {
	return append(dst, "event: ping\ndata: {\"type\": \"ping\"}\n\n"...)
}
