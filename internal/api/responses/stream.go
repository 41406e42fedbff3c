package responses

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/sse"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// event is one streamed event; each type sets the fields it has.
type event struct {
	Type           string    `json:"type"`
	SequenceNumber int       `json:"sequence_number"`
	Response       *Response `json:"response,omitempty"`
	OutputIndex    *int      `json:"output_index,omitempty"`
	ItemID         string    `json:"item_id,omitempty"`
	ContentIndex   *int      `json:"content_index,omitempty"`
	SummaryIndex   *int      `json:"summary_index,omitempty"`
	Item           any       `json:"item,omitempty"`
	Part           any       `json:"part,omitempty"`
	Delta          *string   `json:"delta,omitempty"`
	Text           *string   `json:"text,omitempty"`
	Arguments      *string   `json:"arguments,omitempty"`
	Input          *string   `json:"input,omitempty"`
	Name           string    `json:"name,omitempty"`
	// AnnotationIndex and Annotation: response.output_text.annotation.added.
	AnnotationIndex *int            `json:"annotation_index,omitempty"`
	Annotation      any             `json:"annotation,omitempty"`
	Logprobs        json.RawMessage `json:"logprobs,omitempty"`
}

// open tells which item is being streamed.
type open uint8

const (
	openNone open = iota
	openReasoning
	openMessage
)

// stream renders one streamed answer. Text and reasoning stream as deltas
// of an open item; a tool call comes whole (api.EventToolCall) and is
// rendered as one item with a single delta.
type stream struct {
	resp   *Response // the answer so far; Output holds the finished items
	seq    int
	open   open
	openID string
	buf    strings.Builder // the open item's text
	msgs   int             // message items made so far
	rs     int             // reasoning items made so far
	// cites are web sources not yet attached to a message: they go on the
	// next message item closed (sources come before the answer text).
	cites []api.Citation
}

// NewStream returns the encoder of one streamed answer.
func (c *Codec) NewStream(req *api.Request, meta api.Meta) api.StreamEncoder {
	return &stream{resp: c.base(req, meta)}
}

var zero = 0

func ptr[T any](v T) *T { return &v }

func (s *stream) emit(dst []byte, ev event) []byte {
	ev.SequenceNumber = s.seq
	s.seq++
	data, _ := json.Marshal(ev) // plain types only: cannot fail
	dst = append(dst, "event: "...)
	dst = append(dst, ev.Type...)
	dst = append(dst, '\n')
	return sse.AppendData(dst, data)
}

// snapshot copies the response for an event, so later changes do not show.
func (s *stream) snapshot() *Response {
	r := *s.resp
	r.Output = append([]any{}, s.resp.Output...)
	return &r
}

// Start writes response.created and response.in_progress.
func (s *stream) Start(dst []byte) []byte {
	dst = s.emit(dst, event{Type: "response.created", Response: s.snapshot()})
	return s.emit(dst, event{Type: "response.in_progress", Response: s.snapshot()})
}

// Heartbeat writes an SSE comment.
func (s *stream) Heartbeat(dst []byte) []byte { return sse.AppendComment(dst, "keep-alive") }

// Event writes one event of the answer.
func (s *stream) Event(dst []byte, ev *api.Event) []byte {
	switch ev.Type {
	case api.EventReasoning:
		if ev.Text == "" {
			return dst
		}
		if s.open != openReasoning {
			dst = s.openReasoning(s.close(dst))
		}
		s.buf.WriteString(ev.Text)
		return s.emit(dst, event{Type: "response.reasoning_summary_text.delta", ItemID: s.openID,
			OutputIndex: ptr(len(s.resp.Output)), SummaryIndex: &zero, Delta: ptr(ev.Text)})
	case api.EventText:
		if ev.Text == "" {
			return dst
		}
		if s.open != openMessage {
			dst = s.openMessage(s.close(dst))
		}
		s.buf.WriteString(ev.Text)
		return s.emit(dst, event{Type: "response.output_text.delta", ItemID: s.openID,
			OutputIndex: ptr(len(s.resp.Output)), ContentIndex: &zero, Delta: ptr(ev.Text), Logprobs: json.RawMessage("[]")})
	case api.EventToolCall:
		if ev.Call == nil {
			return dst
		}
		return s.call(s.close(dst), ev.Call)
	case api.EventCitation:
		if ev.Citation != nil {
			s.cites = append(s.cites, *ev.Citation)
		}
	}
	return dst
}

func (s *stream) openReasoning(dst []byte) []byte {
	s.open, s.openID = openReasoning, itemID("rs", s.resp.ID, s.rs)
	s.rs++
	idx := ptr(len(s.resp.Output))
	dst = s.emit(dst, event{Type: "response.output_item.added", OutputIndex: idx, Item: reasoningItem(s.openID, "")})
	return s.emit(dst, event{Type: "response.reasoning_summary_part.added", ItemID: s.openID, OutputIndex: idx,
		SummaryIndex: &zero, Part: SummaryText{Type: "summary_text"}})
}

func (s *stream) openMessage(dst []byte) []byte {
	s.open, s.openID = openMessage, itemID("msg", s.resp.ID, s.msgs)
	s.msgs++
	idx := ptr(len(s.resp.Output))
	dst = s.emit(dst, event{Type: "response.output_item.added", OutputIndex: idx, Item: messageItem(s.openID, "", "in_progress", nil)})
	return s.emit(dst, event{Type: "response.content_part.added", ItemID: s.openID, OutputIndex: idx,
		ContentIndex: &zero, Part: outputText("", nil)})
}

// close finishes the open reasoning or message item, if any.
func (s *stream) close(dst []byte) []byte {
	if s.open == openNone {
		return dst
	}
	text, id, idx := s.buf.String(), s.openID, ptr(len(s.resp.Output))
	var item any
	if s.open == openReasoning {
		dst = s.emit(dst, event{Type: "response.reasoning_summary_text.done", ItemID: id, OutputIndex: idx, SummaryIndex: &zero, Text: &text})
		dst = s.emit(dst, event{Type: "response.reasoning_summary_part.done", ItemID: id, OutputIndex: idx, SummaryIndex: &zero,
			Part: SummaryText{Type: "summary_text", Text: text}})
		item = reasoningItem(id, text)
	} else {
		cites := s.cites
		s.cites = nil
		n := utf8.RuneCountInString(text)
		for i, c := range cites {
			dst = s.emit(dst, event{Type: "response.output_text.annotation.added", ItemID: id, OutputIndex: idx,
				ContentIndex: &zero, AnnotationIndex: ptr(i), Annotation: urlCitation(c, n)})
		}
		dst = s.emit(dst, event{Type: "response.output_text.done", ItemID: id, OutputIndex: idx, ContentIndex: &zero, Text: &text,
			Logprobs: json.RawMessage("[]")})
		dst = s.emit(dst, event{Type: "response.content_part.done", ItemID: id, OutputIndex: idx, ContentIndex: &zero, Part: outputText(text, cites)})
		item = messageItem(id, text, "completed", cites)
	}
	dst = s.emit(dst, event{Type: "response.output_item.done", OutputIndex: idx, Item: item})
	s.resp.Output = append(s.resp.Output, item)
	s.open, s.openID = openNone, ""
	s.buf.Reset()
	return dst
}

// call writes one whole tool call as an item with a single delta.
func (s *stream) call(dst []byte, c *toolcall.Call) []byte {
	idx := ptr(len(s.resp.Output))
	added := callItem(s.resp.ID, *c, "in_progress")
	done := callItem(s.resp.ID, *c, "completed")
	var id string
	dst = s.emit(dst, event{Type: "response.output_item.added", OutputIndex: idx, Item: added})
	if c.Custom {
		id = added.(CustomCallItem).ID
		dst = s.emit(dst, event{Type: "response.custom_tool_call_input.delta", ItemID: id, OutputIndex: idx, Delta: ptr(c.Input)})
		dst = s.emit(dst, event{Type: "response.custom_tool_call_input.done", ItemID: id, OutputIndex: idx, Input: ptr(c.Input)})
	} else {
		id = added.(FunctionCallItem).ID
		dst = s.emit(dst, event{Type: "response.function_call_arguments.delta", ItemID: id, OutputIndex: idx, Delta: ptr(c.Arguments)})
		dst = s.emit(dst, event{Type: "response.function_call_arguments.done", ItemID: id, OutputIndex: idx,
			Arguments: ptr(c.Arguments), Name: c.Name})
	}
	dst = s.emit(dst, event{Type: "response.output_item.done", OutputIndex: idx, Item: done})
	s.resp.Output = append(s.resp.Output, done)
	return dst
}

// End closes the open item and writes response.completed, or
// response.incomplete when the answer was cut (length, content filter).
func (s *stream) End(dst []byte, end *api.End) []byte {
	dst = s.close(dst)
	// An empty answer is still one (empty) message; sources that came
	// after the last message get one too, rather than being lost.
	if len(s.resp.Output) == 0 || len(s.cites) > 0 {
		dst = s.openMessage(dst)
		dst = s.close(dst)
	}
	finish(s.resp, end)
	typ := "response.completed"
	if s.resp.Status == "incomplete" {
		typ = "response.incomplete"
	}
	return s.emit(dst, event{Type: typ, Response: s.snapshot()})
}

// Fail writes response.failed with the problem; the items finished so far
// stay in its output, an open one is dropped. It changes nothing in the
// encoder (the server renders a shutdown failure in advance, before any
// event), so its frame takes the next sequence number without using it.
func (s *stream) Fail(dst []byte, p *api.Problem) []byte {
	r := s.snapshot()
	r.Status = "failed"
	r.Error = &ResponseError{Code: wireCode(p.Code), Message: p.Message}
	seq := s.seq
	dst = s.emit(dst, event{Type: "response.failed", Response: r})
	s.seq = seq
	return dst
}
