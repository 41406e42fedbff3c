package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/anthropics/anthropic-sdk-go/packages/ssestream"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// claudeAlias lets agents name Claude models, as Claude Code does.
const claudeAlias = "claude-*=qwen3.7-plus"

// anthropicClient is the official SDK pointed at the relay, with no
// retries and nothing read from the environment.
func (e *env) anthropicClient(key string) anthropic.Client {
	return anthropic.NewClient(aoption.WithoutEnvironmentDefaults(), aoption.WithBaseURL(e.relay.URL+"/"),
		aoption.WithAPIKey(key), aoption.WithMaxRetries(0), aoption.WithHTTPClient(e.httpc))
}

func startAnthropic(t *testing.T, cfg ...func(*config.Config)) (*env, anthropic.Client) {
	t.Helper()
	e := start(t, setup{cfg: func(c *config.Config) {
		c.ModelAliases = claudeAlias
		for _, f := range cfg {
			f(c)
		}
	}})
	return e, e.anthropicClient(apiKey)
}

func userParams(model, text string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 1024,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))}}
}

// streamMessage streams p and returns what the SDK accumulated.
func streamMessage(ctx context.Context, c anthropic.Client, p anthropic.MessageNewParams) (anthropic.Message, []string, error) {
	st := c.Messages.NewStreaming(ctx, p)
	defer st.Close()
	var msg anthropic.Message
	var types []string
	for st.Next() {
		ev := st.Current()
		types = append(types, ev.Type)
		if err := msg.Accumulate(ev); err != nil {
			return msg, types, err
		}
	}
	return msg, types, st.Err()
}

func TestAnthropicText(t *testing.T) {
	_, c := startAnthropic(t)
	want := qwenfake.AnswerText("hello", 6)
	p := userParams("claude-sonnet-4-5", "Say hello [[qwenfake seed=hello tokens=6]]")
	t.Run("non-stream", func(t *testing.T) {
		msg, err := c.Messages.New(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(msg.ID, "msg_") || msg.Role != "assistant" || string(msg.Model) != "claude-sonnet-4-5" ||
			msg.StopReason != anthropic.StopReasonEndTurn || len(msg.Content) != 1 || msg.Content[0].Text != want ||
			msg.Usage.OutputTokens == 0 || msg.Usage.InputTokens == 0 {
			t.Errorf("message = %s", msg.RawJSON())
		}
	})
	t.Run("stream", func(t *testing.T) {
		msg, types, err := streamMessage(context.Background(), c, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != want || msg.StopReason != anthropic.StopReasonEndTurn || msg.Usage.OutputTokens == 0 {
			t.Errorf("message = %s", msg.RawJSON())
		}
		if types[0] != "message_start" || types[1] != "content_block_start" || types[len(types)-2] != "message_delta" || types[len(types)-1] != "message_stop" {
			t.Errorf("event types = %v", types)
		}
	})
	t.Run("beta query and headers", func(t *testing.T) {
		msg, err := c.Messages.New(context.Background(), p, aoption.WithQuery("beta", "true"),
			aoption.WithHeader("anthropic-beta", "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"))
		if err != nil || msg.Content[0].Text != want {
			t.Fatalf("err %v", err)
		}
	})
}

func TestAnthropicThinking(t *testing.T) {
	_, c := startAnthropic(t)
	p := userParams("claude-opus-4-1", "Think first [[qwenfake seed=th tokens=4 think=5]]")
	p.Thinking = anthropic.ThinkingConfigParamOfEnabled(2048)
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "non-stream", true: "stream"}[stream], func(t *testing.T) {
			var msg anthropic.Message
			var err error
			if stream {
				msg, _, err = streamMessage(context.Background(), c, p)
			} else {
				var m *anthropic.Message
				if m, err = c.Messages.New(context.Background(), p); m != nil {
					msg = *m
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Content) != 2 {
				t.Fatalf("content = %s", msg.RawJSON())
			}
			th := msg.Content[0].AsThinking()
			if th.Type != "thinking" || th.Thinking != qwenfake.SummaryText("th", 5) || th.Signature == "" ||
				msg.Content[1].Text != qwenfake.AnswerText("th", 4) {
				t.Errorf("content = %s", msg.RawJSON())
			}
			// Claude Code sends the thinking block back with the next turn.
			next := userParams("claude-opus-4-1", "And now? [[qwenfake seed=th2 tokens=2]]")
			next.Messages = append(p.Messages, msg.ToParam(), next.Messages[0])
			if _, err := c.Messages.New(context.Background(), next); err != nil {
				t.Errorf("replaying the thinking block: %v", err)
			}
		})
	}
}

func TestAnthropicErrors(t *testing.T) {
	e, c := startAnthropic(t)
	ctx := context.Background()
	tests := []struct {
		name       string
		do         func() error
		wantStatus int
		wantType   string
	}{
		{"missing max_tokens", func() error {
			_, err := c.Messages.New(ctx, userParams("claude-sonnet-4-5", "hi"), aoption.WithJSONDel("max_tokens"))
			return err
		}, 400, "invalid_request_error"},
		{"bad key", func() error {
			bad := e.anthropicClient("sk-wrong")
			_, err := bad.Messages.New(ctx, userParams("claude-sonnet-4-5", "hi"))
			return err
		}, 401, "authentication_error"},
		{"unknown model", func() error {
			_, err := c.Messages.New(ctx, userParams("gpt-nothing", "hi"))
			return err
		}, 404, "not_found_error"},
		{"server tool", func() error {
			_, err := c.Messages.New(ctx, userParams("claude-sonnet-4-5", "hi"),
				aoption.WithJSONSet("tools", []any{map[string]any{"type": "code_execution_20250522", "name": "code_execution"}}))
			return err
		}, 400, "invalid_request_error"},
		{"upstream failure", func() error {
			_, err := c.Messages.New(ctx, userParams("claude-sonnet-4-5", "hi [[qwenfake fail=http500]]"))
			return err
		}, 529, "overloaded_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var apiErr *anthropic.Error
			if err := tt.do(); !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *anthropic.Error", err)
			}
			if apiErr.StatusCode != tt.wantStatus || string(apiErr.Type()) != tt.wantType {
				t.Errorf("got %d %q (%s), want %d %q", apiErr.StatusCode, apiErr.Type(), apiErr.RawJSON(), tt.wantStatus, tt.wantType)
			}
			var body struct {
				Type  string `json:"type"`
				Error struct{ Type, Message string }
			}
			if err := json.Unmarshal([]byte(apiErr.RawJSON()), &body); err != nil || body.Type != "error" || body.Error.Message == "" {
				t.Errorf("body %s (%v)", apiErr.RawJSON(), err)
			}
		})
	}
}

// TestAnthropicMidStreamFailure: a failure after the answer began is an
// error event; the SDK returns it from the stream.
func TestAnthropicMidStreamFailure(t *testing.T) {
	_, c := startAnthropic(t)
	msg, types, err := streamMessage(context.Background(), c, userParams("claude-sonnet-4-5", "go [[qwenfake tokens=8 fail=cut after=3]]"))
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.Type() != "overloaded_error" {
		t.Fatalf("err = %v, want an overloaded_error event; events %v", err, types)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text == "" || msg.StopReason != "" {
		t.Errorf("partial message = %s", msg.RawJSON())
	}
}

// TestAnthropicFailureBeforeFirstByte: a streamed request that fails before
// anything was sent gets an HTTP error, with Retry-After on a 429.
func TestAnthropicFailureBeforeFirstByte(t *testing.T) {
	_, c := startAnthropic(t, func(c *config.Config) { c.RetryBudget = 300 * time.Millisecond })
	tests := []struct {
		name       string
		directive  string
		wantStatus int
		wantType   string
		retryAfter bool
	}{
		{"upstream 500", "[[qwenfake fail=http500]]", 529, "overloaded_error", false},
		{"upstream 429", "[[qwenfake fail=http429 retry_after=7]]", 429, "rate_limit_error", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, types, err := streamMessage(context.Background(), c, userParams("claude-sonnet-4-5", "hi "+tt.directive))
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) || len(types) != 0 {
				t.Fatalf("err = %v, events %v", err, types)
			}
			if apiErr.StatusCode != tt.wantStatus || string(apiErr.Type()) != tt.wantType {
				t.Errorf("got %d %s", apiErr.StatusCode, apiErr.RawJSON())
			}
			if ra := apiErr.Response.Header.Get("Retry-After"); (ra != "") != tt.retryAfter {
				t.Errorf("Retry-After = %q", ra)
			}
		})
	}
}

func TestAnthropicCountTokens(t *testing.T) {
	_, c := startAnthropic(t)
	ctx := context.Background()
	short, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude-sonnet-4-5",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there"))}})
	if err != nil || short.InputTokens <= 0 {
		t.Fatalf("count = %v, %v", short, err)
	}
	long, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude-sonnet-4-5",
		System:   anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String(strings.Repeat("be careful ", 100))},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there"))}})
	if err != nil || long.InputTokens < short.InputTokens+200 {
		t.Errorf("with a system prompt: %v, %v (without: %d)", long, err, short.InputTokens)
	}
	var apiErr *anthropic.Error
	_, err = c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude-sonnet-4-5"})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Type() != "invalid_request_error" {
		t.Errorf("without messages: %v", err)
	}
}

// postRaw sends a raw Messages body as Claude Code does (x-api-key,
// anthropic-version, anthropic-beta, ?beta=true).
func (e *env) postRaw(t *testing.T, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.relay.URL+"/v1/messages?beta=true", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", apiKey)
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14")
	resp, err := e.httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// claudeCodeRequest is the replayed Claude Code request (see the codec's
// testdata) with text appended to its last user turn.
func claudeCodeRequest(t *testing.T, directive string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../api/anthropic/testdata/claude_code_request.json")
	if err != nil {
		t.Fatal(err)
	}
	var req map[string]any
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	msgs := req["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)
	last["content"] = append(last["content"].([]any), map[string]any{"type": "text", "text": directive})
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAnthropicClaudeCodeReplay replays a Claude Code request shape
// (streamed, thinking with a budget, many tools, cache_control, metadata,
// replayed thinking, tool history) and reads the stream with the SDK.
func TestAnthropicClaudeCodeReplay(t *testing.T) {
	e, _ := startAnthropic(t)
	resp := e.postRaw(t, claudeCodeRequest(t, "[[qwenfake seed=cc tokens=5 think=3]]"))
	msg, _ := readEvents(t, resp)
	if len(msg.Content) != 2 || msg.Content[0].Thinking != qwenfake.SummaryText("cc", 3) ||
		msg.Content[1].Text != qwenfake.AnswerText("cc", 5) || msg.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("message = %s", msg.RawJSON())
	}
}

// readEvents reads a streamed answer with the SDK's decoder and returns
// the accumulated message and the event types.
func readEvents(t *testing.T, resp *http.Response) (anthropic.Message, []string) {
	t.Helper()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	st := ssestream.NewStream[anthropic.MessageStreamEventUnion](ssestream.NewDecoder(resp), nil)
	var msg anthropic.Message
	var types []string
	for st.Next() {
		types = append(types, st.Current().Type)
		if err := msg.Accumulate(st.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	return msg, types
}

// TestAnthropicPromptTooLong: a conversation over the upstream's size wall
// is Anthropic's "prompt is too long" 400, which Claude Code recognizes.
func TestAnthropicPromptTooLong(t *testing.T) {
	_, c := startAnthropic(t, func(c *config.Config) { c.UpstreamMaxBody = 4000 })
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "non-stream", true: "stream"}[stream], func(t *testing.T) {
			p := userParams("claude-sonnet-4-5", strings.Repeat("long history ", 500))
			var err error
			if stream {
				_, _, err = streamMessage(context.Background(), c, p)
			} else {
				_, err = c.Messages.New(context.Background(), p)
			}
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Type() != "invalid_request_error" ||
				!strings.Contains(apiErr.RawJSON(), `"message":"prompt is too long: `) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
