package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/sse"
)

// Responses API end to end: the official SDK's Responses client against a
// running relay; each test checks what the SDK hands its user.

func respParams(text string) responses.ResponseNewParams {
	return responses.ResponseNewParams{Model: model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(text)}}
}

func weatherTool() responses.ToolUnionParam {
	return responses.ToolParamOfFunction("get_weather", map[string]any{
		"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"},
	}, false)
}

// streamed is what a client saw of one streamed response.
type streamed struct {
	types    []string
	text     string // output_text deltas
	summary  string // reasoning summary deltas
	final    responses.Response
	snapshot responses.ResponseAccumulatorSnapshot
	rebuilt  *responses.Response
}

func (e *env) respStream(t *testing.T, p responses.ResponseNewParams) streamed {
	t.Helper()
	st := e.client.Responses.NewStreaming(context.Background(), p)
	defer st.Close()
	var (
		s   streamed
		acc responses.ResponseAccumulator
		seq int64 = -1
	)
	for st.Next() {
		ev := st.Current()
		if ev.SequenceNumber != seq+1 {
			t.Fatalf("event %s has sequence_number %d after %d", ev.Type, ev.SequenceNumber, seq)
		}
		seq = ev.SequenceNumber
		s.types = append(s.types, ev.Type)
		switch ev.Type {
		case "response.output_text.delta":
			s.text += ev.Delta
		case "response.reasoning_summary_text.delta":
			s.summary += ev.Delta
		case "response.completed", "response.incomplete", "response.failed":
			s.final = ev.Response
		}
		// The SDK's accumulator takes the same events as its server union.
		var se responses.ResponsesServerEventUnion
		if err := json.Unmarshal([]byte(ev.RawJSON()), &se); err != nil {
			t.Fatal(err)
		}
		if err := acc.AddEvent(se); err != nil {
			t.Fatalf("accumulator: %v", err)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	s.snapshot = acc.Snapshot()
	r, err := acc.ReconstructedResponse()
	if err != nil {
		t.Fatalf("reconstructed response: %v", err)
	}
	s.rebuilt = r
	return s
}

func TestResponsesText(t *testing.T) {
	e := start(t, setup{})
	ctx := context.Background()
	t.Run("non-stream", func(t *testing.T) {
		r, err := e.client.Responses.New(ctx, respParams(directive("tokens=32 seed=r1")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.ID, "resp_") || r.Status != "completed" || r.OutputText() != qwenfake.AnswerText("r1", 32) {
			t.Fatalf("id %s status %s text %q", r.ID, r.Status, r.OutputText())
		}
		if r.Usage.InputTokens == 0 || r.Usage.OutputTokens == 0 || r.Usage.TotalTokens != r.Usage.InputTokens+r.Usage.OutputTokens {
			t.Fatalf("usage %+v", r.Usage)
		}
	})
	t.Run("stream with reasoning", func(t *testing.T) {
		p := respParams(directive("tokens=24 think=8 seed=r2"))
		p.Reasoning = shared.ReasoningParam{Effort: shared.ReasoningEffortHigh, Summary: shared.ReasoningSummaryAuto}
		p.Instructions = openai.String("Be brief.")
		s := e.respStream(t, p)
		want := qwenfake.AnswerText("r2", 24)
		if s.text != want || s.final.OutputText() != want || s.final.Status != "completed" {
			t.Fatalf("text %q final %q (%s), want %q", s.text, s.final.OutputText(), s.final.Status, want)
		}
		if s.summary != qwenfake.SummaryText("r2", 8) {
			t.Fatalf("reasoning summary %q", s.summary)
		}
		if len(s.final.Output) != 2 || s.final.Output[0].Type != "reasoning" || s.final.Output[0].AsReasoning().Summary[0].Text != s.summary {
			t.Fatalf("output %s", s.final.RawJSON())
		}
		if s.types[0] != "response.created" || s.types[1] != "response.in_progress" || s.types[len(s.types)-1] != "response.completed" {
			t.Fatalf("event types %v", s.types)
		}
		if s.rebuilt.OutputText() != want || s.final.Instructions.OfString != "Be brief." {
			t.Fatalf("rebuilt %q instructions %+v", s.rebuilt.OutputText(), s.final.Instructions)
		}
	})
}

func TestResponsesFunctionTool(t *testing.T) {
	e := start(t, setup{cfg: scripted(t, scripts)})
	ctx := context.Background()
	p := respParams("What is the weather in Paris?" + marker("weather"))
	p.Tools = []responses.ToolUnionParam{weatherTool()}
	checkCall := func(t *testing.T, fc responses.ResponseFunctionToolCall) {
		t.Helper()
		var args struct{ City string }
		if fc.Name != "get_weather" || !strings.HasPrefix(fc.CallID, "call_") || json.Unmarshal([]byte(fc.Arguments), &args) != nil ||
			args.City != weatherCity {
			t.Fatalf("call %+v", fc)
		}
	}
	var first *responses.Response
	t.Run("non-stream", func(t *testing.T) {
		r, err := e.client.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Output) != 2 || r.Output[0].Type != "message" || r.OutputText() != "Let me check." || r.Output[1].Type != "function_call" {
			t.Fatalf("output %s", r.RawJSON())
		}
		checkCall(t, r.Output[1].AsFunctionCall())
		first = r
	})
	t.Run("stream", func(t *testing.T) {
		s := e.respStream(t, p)
		if len(s.final.Output) != 2 || s.final.Output[1].Type != "function_call" {
			t.Fatalf("final output %s", s.final.RawJSON())
		}
		checkCall(t, s.final.Output[1].AsFunctionCall())
		// What the SDK's accumulator hands over.
		snap := s.snapshot.Output
		if len(snap) != 2 || snap[1].Type != "function_call" || snap[1].Name != "get_weather" || snap[1].Arguments != s.final.Output[1].AsFunctionCall().Arguments {
			t.Fatalf("accumulated %+v", snap)
		}
		if !contains(s.types, "response.function_call_arguments.delta") || !contains(s.types, "response.function_call_arguments.done") {
			t.Fatalf("event types %v", s.types)
		}
	})
	t.Run("result via previous_response_id", func(t *testing.T) {
		if first == nil {
			t.Skip("no first response")
		}
		out := responses.ResponseInputItemParamOfFunctionCallOutput("sunny, 21 C")
		out.OfFunctionCallOutput.CallID = param.NewOpt(first.Output[1].AsFunctionCall().CallID)
		p2 := responses.ResponseNewParams{Model: model, PreviousResponseID: openai.String(first.ID), Tools: p.Tools,
			Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{out,
				responses.ResponseInputItemParamOfMessage("Thanks."+marker("done"), responses.EasyInputMessageRoleUser)}}}
		r, err := e.client.Responses.New(ctx, p2)
		if err != nil {
			t.Fatal(err)
		}
		if r.OutputText() != scripts["done"] || r.PreviousResponseID != first.ID {
			t.Fatalf("second turn %s", r.RawJSON())
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestResponsesCustomTool(t *testing.T) {
	e := start(t, setup{cfg: scripted(t, scripts)})
	p := respParams("Fix the typo in README.md" + marker("patch"))
	custom := responses.ToolParamOfCustom("apply_patch")
	custom.OfCustom.Description = param.NewOpt("Edit files with a patch.")
	p.Tools = []responses.ToolUnionParam{custom, weatherTool()}
	s := e.respStream(t, p)
	if len(s.final.Output) != 1 || s.final.Output[0].Type != "custom_tool_call" {
		t.Fatalf("output %s", s.final.RawJSON())
	}
	c := s.final.Output[0].AsCustomToolCall()
	if c.Name != "apply_patch" || c.Input != patchInput || c.CallID == "" {
		t.Fatalf("custom call %+v\nwant input %q", c, patchInput)
	}
	if snap := s.snapshot.Output; len(snap) != 1 || snap[0].Input != patchInput || snap[0].Type != "custom_tool_call" {
		t.Fatalf("accumulated %+v", snap)
	}
	r, err := e.client.Responses.New(context.Background(), p)
	if err != nil || len(r.Output) != 1 || r.Output[0].AsCustomToolCall().Input != patchInput {
		t.Fatalf("non-stream: %v %s", err, r.RawJSON())
	}
}

func TestResponsesStoredGetDelete(t *testing.T) {
	e := start(t, setup{})
	ctx := context.Background()
	r, err := e.client.Responses.New(ctx, respParams(directive("tokens=8 seed=g1")))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.client.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil || got.ID != r.ID || got.OutputText() != r.OutputText() {
		t.Fatalf("get: %v %+v", err, got)
	}
	if err := e.client.Responses.Delete(ctx, r.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = e.client.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if ae := apiErr(t, err); ae.StatusCode != http.StatusNotFound {
		t.Fatalf("get deleted: %d", ae.StatusCode)
	}
	if ae := apiErr(t, e.client.Responses.Delete(ctx, r.ID)); ae.StatusCode != http.StatusNotFound {
		t.Fatalf("delete again: %d", ae.StatusCode)
	}

	// store: false is neither retrievable nor continuable.
	p := respParams(directive("tokens=8 seed=g2"))
	p.Store = openai.Bool(false)
	r2, err := e.client.Responses.New(ctx, p)
	if err != nil || !strings.Contains(r2.RawJSON(), `"store":false`) {
		t.Fatalf("store false: %v %s", err, r2.RawJSON())
	}
	_, err = e.client.Responses.Get(ctx, r2.ID, responses.ResponseGetParams{})
	if ae := apiErr(t, err); ae.StatusCode != http.StatusNotFound {
		t.Fatalf("get store:false: %d", ae.StatusCode)
	}
	p3 := respParams("more")
	p3.PreviousResponseID = openai.String(r2.ID)
	_, err = e.client.Responses.New(ctx, p3)
	if ae := apiErr(t, err); ae.StatusCode != http.StatusNotFound || ae.Param != "previous_response_id" {
		t.Fatalf("previous store:false: %d %q", ae.StatusCode, ae.Param)
	}
}

// TestResponsesCodexRequest replays a Codex CLI request shape (store false,
// reasoning effort, include reasoning.encrypted_content, instructions,
// developer messages, a custom apply_patch tool with a lark grammar,
// function tools, hosted tools, earlier calls and their outputs, replayed
// reasoning items) under Codex's own model name, and reads the stream as
// Codex does: the output items from response.output_item.done, then
// response.completed.
func TestResponsesCodexRequest(t *testing.T) {
	hook := scripted(t, scripts)
	e := start(t, setup{cfg: func(c *config.Config) {
		hook(c)
		c.ModelAliases = "gpt-5-codex=" + model
	}})
	raw, err := os.ReadFile("../api/responses/testdata/codex_request.json")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	input := body["input"].([]any)
	input = append(input, map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "Apply the fix." + marker("patch")}}})
	body["input"] = input
	raw, _ = json.Marshal(body)

	req, _ := http.NewRequest(http.MethodPost, e.relay.URL+"/v1/responses", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d %s", resp.StatusCode, b)
	}
	var (
		items    []map[string]any
		complete map[string]any
		respID   string
	)
	d := sse.NewDecoder(resp.Body, 0)
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(ev.Data, &v); err != nil || v["type"] != ev.Type {
			t.Fatalf("event %q data %s", ev.Type, ev.Data)
		}
		switch ev.Type {
		case "response.created":
			respID, _ = v["response"].(map[string]any)["id"].(string)
		case "response.output_item.done":
			items = append(items, v["item"].(map[string]any))
		case "response.completed":
			complete = v["response"].(map[string]any)
		}
	}
	if complete == nil || complete["store"] != false || complete["model"] != "gpt-5-codex" {
		t.Fatalf("completed %v", complete)
	}
	if len(items) != 1 || items[0]["type"] != "custom_tool_call" || items[0]["name"] != "apply_patch" || items[0]["input"] != patchInput {
		t.Fatalf("output items %v", items)
	}
	// store: false — nothing to GET.
	if r, body := e.get("/v1/responses/" + respID); r.StatusCode != http.StatusNotFound {
		t.Fatalf("GET %s: %d %s", respID, r.StatusCode, body)
	}
}
