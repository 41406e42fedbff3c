package anthropic

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// Codec is the Anthropic Messages surface.
type Codec struct{}

var _ api.Codec = Codec{}

// New returns the Messages codec.
func New() api.Codec { return Codec{} }

// Name names the surface in logs, metrics and usage rows.
func (Codec) Name() string { return "anthropic" }

// Decode parses a POST /v1/messages body. The anthropic-version and
// anthropic-beta headers are accepted and ignored.
func (Codec) Decode(_ context.Context, body []byte, _ http.Header) (*api.Request, error) {
	return decode(body, false)
}

// NewID makes a message id ("msg_…").
func (Codec) NewID() string { return api.RandomID("msg_", 24) }

// NewStream returns the encoder of one streamed answer.
func (Codec) NewStream(req *api.Request, meta api.Meta) api.StreamEncoder {
	return &streamEncoder{meta: meta, req: req, inputEstimate: estimate(req)}
}

// signature is the opaque signature of every thinking block (see the
// package doc).
const signature = "cXdlbnJlbGF5OnRoaW5raW5nOnYx"

// Stop reasons.
const (
	stopEndTurn   = "end_turn"
	stopToolUse   = "tool_use"
	stopMaxTokens = "max_tokens"
	stopRefusal   = "refusal"
)

// stopReason maps a neutral finish reason.
func stopReason(finish string) string {
	switch finish {
	case api.FinishToolCalls:
		return stopToolUse
	case api.FinishLength:
		return stopMaxTokens
	case api.FinishContentFilter:
		return stopRefusal
	}
	return stopEndTurn
}

// toolUseID gives a call its tool_use id: a "toolu_" id is kept, a
// "call_" id is renamed, and a call without one gets one made from the
// message id and its index.
func toolUseID(meta api.Meta, c *toolcall.Call) string {
	switch {
	case strings.HasPrefix(c.ID, "toolu_"):
		return c.ID
	case strings.HasPrefix(c.ID, "call_"):
		return "toolu_" + strings.TrimPrefix(c.ID, "call_")
	case c.ID != "":
		return "toolu_" + c.ID
	}
	return "toolu_" + strings.TrimPrefix(meta.ID, "msg_") + "_" + strconv.Itoa(c.Index)
}

// toolInput is a call's input object as JSON: the arguments (always a JSON
// object for function tools), or a custom tool's raw text as {"input": …}.
func toolInput(c *toolcall.Call) []byte {
	if c.Custom {
		return marshal(map[string]string{"input": c.Input})
	}
	args := strings.TrimSpace(c.Arguments)
	if args == "" {
		return []byte("{}")
	}
	if args[0] != '{' || !json.Valid([]byte(args)) {
		// Never happens with the parser's calls (their arguments are a
		// JSON object); kept whole rather than sent as broken JSON.
		return marshal(map[string]string{"input": c.Arguments})
	}
	return []byte(args)
}

// wireUsage is Anthropic's usage object.
type wireUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// usageOf maps the upstream usage: Anthropic's input_tokens excludes
// tokens read from the cache, which it counts apart.
func usageOf(end *api.End) wireUsage {
	u := end.Usage
	in := u.PromptTokens - u.CachedTokens
	if in < 0 {
		in = 0
	}
	return wireUsage{InputTokens: in, OutputTokens: u.CompletionTokens, CacheReadInputTokens: u.CachedTokens}
}
