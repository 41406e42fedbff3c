package anthropic

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/packages/ssestream"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// accumulate runs a transcript through the official SDK's SSE decoder and
// Message.Accumulate, as a client would.
func accumulate(t *testing.T, sse []byte) (anthropic.Message, error) {
	t.Helper()
	res := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(sse))}
	stream := ssestream.NewStream[anthropic.MessageStreamEventUnion](ssestream.NewDecoder(res), nil)
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatalf("Accumulate: %v", err)
		}
	}
	return msg, stream.Err()
}

// TestSDKAccumulatesStreams checks what the official SDK hands its user
// from each streamed transcript.
func TestSDKAccumulatesStreams(t *testing.T) {
	byName := make(map[string]transcript)
	for _, tr := range transcripts {
		byName[tr.name] = tr
	}
	t.Run("text", func(t *testing.T) {
		msg, err := accumulate(t, render(byName["text"]))
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != `Hello, <b>world</b> & "you"` || msg.StopReason != anthropic.StopReasonEndTurn ||
			msg.Usage.InputTokens != 12 || msg.Usage.OutputTokens != 3 || msg.ID != "msg_test" {
			t.Errorf("message = %+v", msg)
		}
	})
	t.Run("thinking_text", func(t *testing.T) {
		msg, err := accumulate(t, render(byName["thinking_text"]))
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 2 {
			t.Fatalf("content = %+v", msg.Content)
		}
		th := msg.Content[0].AsThinking()
		if th.Thinking != "Let me think about 2+2." || th.Signature != signature || msg.Content[1].Text != "It is 4." ||
			msg.StopReason != anthropic.StopReasonMaxTokens || msg.Usage.CacheReadInputTokens != 8 {
			t.Errorf("message = %+v", msg)
		}
	})
	t.Run("text_two_tools", func(t *testing.T) {
		msg, err := accumulate(t, render(byName["text_two_tools"]))
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 3 || msg.StopReason != anthropic.StopReasonToolUse {
			t.Fatalf("message = %+v", msg)
		}
		tu := msg.Content[1].AsToolUse()
		var in map[string]string
		if err := json.Unmarshal(tu.Input, &in); err != nil || in["note"] != "</tool_call> \"q\"\n中文" || tu.ID != "toolu_a1" || tu.Name != "get_weather" {
			t.Errorf("tool_use = %+v (%v), input %q", tu, err, tu.Input)
		}
		if tu2 := msg.Content[2].AsToolUse(); string(tu2.Input) != "{}" || tu2.Name != "get_time" {
			t.Errorf("second tool_use = %+v", tu2)
		}
		// The accumulated message goes back as the next request's history.
		param := msg.ToParam()
		if len(param.Content) != 3 {
			t.Errorf("ToParam content = %d blocks", len(param.Content))
		}
	})
	t.Run("fail_midstream", func(t *testing.T) {
		msg, err := accumulate(t, render(byName["fail_midstream"]))
		if err == nil || !strings.Contains(err.Error(), "overloaded_error") {
			t.Errorf("err = %v, want the error event", err)
		}
		if len(msg.Content) != 2 || msg.Content[1].Text != "Partial" {
			t.Errorf("partial message = %+v", msg)
		}
	})
}

// TestSDKReadsAnswer decodes a non-stream answer as the SDK's Message.
func TestSDKReadsAnswer(t *testing.T) {
	ans := &api.Answer{Reasoning: "r", Text: "t", Calls: []toolcall.Call{{ID: "call_1", Name: "f", Arguments: `{"a":[1,2]}`}},
		End: api.End{FinishReason: api.FinishToolCalls, Usage: upstream.Usage{PromptTokens: 7, CompletionTokens: 5}}}
	_, body := New().Answer(&api.Request{}, testMeta, ans)
	var msg anthropic.Message
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 3 || msg.Content[0].AsThinking().Signature == "" || msg.Content[2].AsToolUse().ID != "toolu_1" ||
		string(msg.Content[2].AsToolUse().Input) != `{"a":[1,2]}` || msg.StopReason != anthropic.StopReasonToolUse || msg.Usage.InputTokens != 7 {
		t.Errorf("message = %+v", msg)
	}
}
