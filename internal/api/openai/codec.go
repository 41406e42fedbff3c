package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Codec is the OpenAI chat completions surface.
type Codec struct{}

var _ api.Codec = Codec{}

// Name implements api.Codec.
func (Codec) Name() string { return "openai" }

// NewID implements api.Codec.
func (Codec) NewID() string { return api.RandomID("chatcmpl-", 24) }

// Decode implements api.Codec.
func (Codec) Decode(_ context.Context, body []byte, _ http.Header) (*api.Request, error) {
	req, err := DecodeChatRequest(body)
	if err != nil {
		return nil, AsProblem(err)
	}
	choice, parallel, err := req.NeutralChoice()
	if err != nil {
		return nil, AsProblem(err)
	}
	out := &api.Request{
		Model: req.Model, Stream: req.Stream, IncludeUsage: req.IncludeUsage(),
		Tools: req.NeutralTools(), ToolChoice: choice, Parallel: parallel,
		Messages: make([]api.Message, 0, len(req.Messages)),
		Thinking: thinking(req), Search: req.WebSearch(),
	}
	if req.ThinkingBudget != nil && *req.ThinkingBudget > 0 {
		out.ThinkingBudget = *req.ThinkingBudget
	}
	if req.MaxCompletionTokens != nil {
		out.MaxTokens = *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		out.MaxTokens = *req.MaxTokens
	}
	for i := range req.Messages {
		m := &req.Messages[i]
		role := m.Role
		switch role {
		case "developer":
			role = "system"
		case "function":
			role = "tool"
		}
		md, err := messageMedia(m, i)
		if err != nil {
			return nil, AsProblem(err)
		}
		out.Messages = append(out.Messages, api.Message{Role: role, Text: m.Content.String(), Media: md,
			ToolCalls: neutralCalls(m), ToolCallID: m.ToolCallID, ToolName: m.Name})
	}
	if err := toolcall.Validate(out.Tools, out.ToolChoice); err != nil {
		return nil, api.ProblemOf(err, false)
	}
	return out, nil
}

// AsProblem turns a decoding error into an invalid-request problem.
func AsProblem(err error) error {
	var re *RequestError
	if errors.As(err, &re) {
		p := api.Invalid(re.Code, re.Param, "%s", re.Message)
		return p
	}
	return err
}

// thinking decides reasoning from the request's own switches: an explicit
// enable_thinking wins, then reasoning_effort, then a thinking_budget; nil
// leaves it to the model's -thinking suffix or the upstream's default.
func thinking(req *ChatRequest) *bool {
	on, off := true, false
	switch {
	case req.EnableThinking != nil:
		return req.EnableThinking
	case req.ReasoningEffort != nil:
		if e := *req.ReasoningEffort; e == "none" || e == "minimal" {
			return &off
		}
		return &on
	case req.ThinkingBudget != nil && *req.ThinkingBudget > 0:
		return &on
	}
	return nil
}

// Error implements api.Codec: OpenAI's {"error":{message,type,param,code}}.
func (Codec) Error(p *api.Problem) (int, []byte) {
	b, _ := json.Marshal(NewError(string(p.Class), p.Code, p.Param, p.Message))
	return p.Status, b
}

// Answer implements api.Codec: a chat.completion object.
func (Codec) Answer(_ *api.Request, meta api.Meta, ans *api.Answer) (int, []byte) {
	u := NeutralUsage(ans.End.Usage)
	msg := ResponseMessage{Role: "assistant", ReasoningContent: ans.Reasoning}
	if ans.Text != "" || len(ans.Calls) == 0 {
		text := ans.Text
		msg.Content = &text
	}
	for _, c := range ans.Calls {
		msg.ToolCalls = append(msg.ToolCalls, wireCall(c, false))
	}
	msg.Annotations = Annotations(ans.Citations, utf8.RuneCountInString(ans.Text))
	b, err := json.Marshal(ChatCompletion{
		ID: meta.ID, Object: "chat.completion", Created: meta.Created, Model: meta.Model, Usage: &u,
		Choices: []Choice{{Message: msg, FinishReason: ans.End.FinishReason}},
	})
	if err != nil {
		return http.StatusInternalServerError, []byte(`{"error":{"message":"internal error: could not encode the answer","type":"server_error","param":null,"code":"internal_error"}}`)
	}
	return http.StatusOK, b
}

func wireCall(c toolcall.Call, withIndex bool) ToolCall {
	w := ToolCall{ID: c.ID, Type: "function"}
	if withIndex {
		i := c.Index
		w.Index = &i
	}
	if c.Custom {
		w.Type, w.Custom = "custom", &CustomCall{Name: c.Name, Input: c.Input}
	} else {
		w.Function = &FunctionCall{Name: c.Name, Arguments: c.Arguments}
	}
	return w
}

// NeutralUsage converts upstream usage to OpenAI's usage object.
func NeutralUsage(u upstream.Usage) Usage {
	out := Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.PromptTokens + out.CompletionTokens
	}
	out.PromptTokensDetails = &PromptTokensDetails{CachedTokens: u.CachedTokens}
	out.CompletionTokensDetails = &CompletionTokensDetails{ReasoningTokens: u.ReasoningTokens}
	return out
}

// NewStream implements api.Codec.
func (Codec) NewStream(req *api.Request, meta api.Meta) api.StreamEncoder {
	return &chunkStream{h: ChunkHeader{ID: meta.ID, Created: meta.Created, Model: meta.Model}, role: "assistant", usage: req.IncludeUsage}
}

// chunkStream renders chat.completion.chunk frames: the role in the first
// chunk only, one id and created for all, tool calls as tool_calls deltas,
// a finish chunk, a usage chunk when asked, then [DONE].
type chunkStream struct {
	h     ChunkHeader
	role  string // "assistant" until the first chunk went out
	usage bool
	cites []api.Citation // sources, sent as annotations before the finish chunk
	runes int            // characters of answer text sent
}

var (
	doneFrame      = []byte("data: [DONE]\n\n")
	keepAliveFrame = []byte(": keep-alive\n\n")
)

func (s *chunkStream) Start(dst []byte) []byte { return dst }

func (s *chunkStream) Heartbeat(dst []byte) []byte { return append(dst, keepAliveFrame...) }

func (s *chunkStream) Event(dst []byte, ev *api.Event) []byte {
	dst = append(dst, "data: "...)
	switch ev.Type {
	case api.EventCitation:
		// The answer text is not there yet: its span is known at the end.
		s.cites = append(s.cites, *ev.Citation)
		return dst[:len(dst)-len("data: ")]
	case api.EventReasoning:
		dst = AppendChunk(dst, &s.h, s.role, DeltaReasoning, ev.Text)
	case api.EventToolCall:
		dst = appendToolCallChunk(dst, &s.h, s.role, ev.Call)
	default:
		s.runes += utf8.RuneCountInString(ev.Text)
		dst = AppendChunk(dst, &s.h, s.role, DeltaContent, ev.Text)
	}
	s.role = ""
	return append(dst, '\n', '\n')
}

// appendToolCallChunk renders one whole call as one delta: index, id,
// type, name and the complete arguments (clients accumulate argument
// pieces; one piece is a valid sequence).
func appendToolCallChunk(dst []byte, h *ChunkHeader, role string, c *toolcall.Call) []byte {
	dst = appendChunkHead(dst, h)
	dst = append(dst, `"choices":[{"index":0,"delta":{`...)
	if role != "" {
		dst = append(dst, `"role":`...)
		dst = AppendString(dst, role)
		dst = append(dst, `,"content":null,`...)
	}
	dst = append(dst, `"tool_calls":[{"index":`...)
	dst = strconv.AppendInt(dst, int64(c.Index), 10)
	dst = append(dst, `,"id":`...)
	dst = AppendString(dst, c.ID)
	if c.Custom {
		dst = append(dst, `,"type":"custom","custom":{"name":`...)
		dst = AppendString(dst, c.Name)
		dst = append(dst, `,"input":`...)
		dst = AppendString(dst, c.Input)
	} else {
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = AppendString(dst, c.Name)
		dst = append(dst, `,"arguments":`...)
		dst = AppendString(dst, c.Arguments)
	}
	return append(dst, `}}]},"logprobs":null,"finish_reason":null}]}`...)
}

func (s *chunkStream) End(dst []byte, end *api.End) []byte {
	if len(s.cites) > 0 {
		dst = append(dst, "data: "...)
		dst = appendAnnotationChunk(dst, &s.h, s.role, Annotations(s.cites, s.runes))
		dst = append(dst, '\n', '\n')
		s.role = ""
	}
	dst = append(dst, "data: "...)
	dst = AppendFinishChunk(dst, &s.h, s.role, end.FinishReason)
	dst = append(dst, '\n', '\n')
	s.role = ""
	if s.usage {
		u := NeutralUsage(end.Usage)
		dst = append(dst, "data: "...)
		dst = AppendUsageChunk(dst, &s.h, &u)
		dst = append(dst, '\n', '\n')
	}
	return append(dst, doneFrame...)
}

func (s *chunkStream) Fail(dst []byte, p *api.Problem) []byte {
	_, body := Codec{}.Error(p)
	dst = append(dst, "data: "...)
	dst = append(dst, body...)
	dst = append(dst, '\n', '\n')
	return append(dst, doneFrame...)
}
