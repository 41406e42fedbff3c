package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// Web search end to end (issue #8): -search variants, the search switches
// of each surface, and the emulator's sources rendered as each surface's
// citations, with the answer text unchanged byte for byte.

const searchSeed = "srch"

func searchPrompt() string { return "what is new? [[qwenfake tokens=12 seed=" + searchSeed + "]]" }

func wantText() string { return qwenfake.AnswerText(searchSeed, 12) }

func checkSources(t *testing.T, what string, got []qwenfake.SearchSource) {
	t.Helper()
	want := qwenfake.SearchSources(searchSeed)
	if !slices.Equal(got, want) {
		t.Errorf("%s: sources %v, want %v", what, got, want)
	}
}

func TestSearchModelsListed(t *testing.T) {
	e := start(t, setup{})
	page, err := e.client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	for _, id := range []string{model + "-search", model + "-thinking-search", "qwen3-coder-plus-search"} {
		if !slices.Contains(ids, id) {
			t.Errorf("%s not listed: %v", id, ids)
		}
	}
	if slices.Contains(ids, "qwen3-coder-plus-thinking-search") {
		t.Error("a thinking-search variant of a model that cannot think is listed")
	}
}

// openaiAnnotations reads url_citation annotations from raw JSON.
func openaiAnnotations(t *testing.T, raw string) []qwenfake.SearchSource {
	t.Helper()
	var anns []struct {
		Type        string `json:"type"`
		URLCitation struct {
			URL        string `json:"url"`
			Title      string `json:"title"`
			StartIndex int    `json:"start_index"`
			EndIndex   int    `json:"end_index"`
		} `json:"url_citation"`
	}
	if err := json.Unmarshal([]byte(raw), &anns); err != nil {
		t.Fatalf("annotations %s: %v", raw, err)
	}
	var out []qwenfake.SearchSource
	for _, a := range anns {
		if a.Type != "url_citation" || a.URLCitation.StartIndex != 0 || a.URLCitation.EndIndex != utf8.RuneCountInString(wantText()) {
			t.Errorf("annotation %+v", a)
		}
		out = append(out, qwenfake.SearchSource{URL: a.URLCitation.URL, Title: a.URLCitation.Title})
	}
	return out
}

func TestSearchOpenAIChat(t *testing.T) {
	e := start(t, setup{})
	withOptions := func(m string) openai.ChatCompletionNewParams {
		p := params(m, searchPrompt())
		p.WebSearchOptions = openai.ChatCompletionNewParamsWebSearchOptions{SearchContextSize: "low"}
		return p
	}
	for _, tc := range []struct {
		name   string
		p      openai.ChatCompletionNewParams
		search bool
	}{
		{"variant", params(model+"-search", searchPrompt()), true},
		{"thinking variant", params(model+"-thinking-search", searchPrompt()), true},
		{"web_search_options", withOptions(model), true},
		{"no search", params(model, searchPrompt()), false},
	} {
		t.Run(tc.name+"/non-stream", func(t *testing.T) {
			c, err := e.client.Chat.Completions.New(context.Background(), tc.p)
			if err != nil {
				t.Fatal(err)
			}
			msg := c.Choices[0].Message
			if msg.Content != wantText() {
				t.Errorf("content %q, want %q", msg.Content, wantText())
			}
			if !tc.search {
				if len(msg.Annotations) != 0 {
					t.Errorf("annotations without search: %+v", msg.Annotations)
				}
				return
			}
			checkSources(t, "message.annotations", openaiAnnotations(t, msg.JSON.Annotations.Raw()))
			for _, a := range msg.Annotations { // the SDK's own view
				if a.Type != "url_citation" || a.URLCitation.URL == "" || a.URLCitation.EndIndex == 0 {
					t.Errorf("SDK annotation %+v", a)
				}
			}
		})
		t.Run(tc.name+"/stream", func(t *testing.T) {
			content, got := streamAnnotations(t, e, tc.p)
			if content != wantText() {
				t.Errorf("content %q, want %q", content, wantText())
			}
			if !tc.search {
				if len(got) != 0 {
					t.Errorf("annotations without search: %v", got)
				}
				return
			}
			checkSources(t, "delta annotations", got)
		})
	}
}

func responsesSources(t *testing.T, r *responses.Response) (string, []qwenfake.SearchSource) {
	t.Helper()
	var text string
	var got []qwenfake.SearchSource
	for _, item := range r.Output {
		for _, c := range item.Content {
			text += c.Text
			for _, a := range c.Annotations {
				if a.Type != "url_citation" || a.StartIndex != 0 || int(a.EndIndex) != utf8.RuneCountInString(wantText()) {
					t.Errorf("annotation %+v", a)
				}
				got = append(got, qwenfake.SearchSource{URL: a.URL, Title: a.Title})
			}
		}
	}
	return text, got
}

func TestSearchResponses(t *testing.T) {
	e := start(t, setup{})
	for _, typ := range []string{"web_search", "web_search_preview"} {
		p := respParams(searchPrompt())
		if typ == "web_search" {
			p.Tools = []responses.ToolUnionParam{responses.ToolParamOfWebSearch(responses.WebSearchToolTypeWebSearch)}
		} else {
			p.Tools = []responses.ToolUnionParam{responses.ToolParamOfWebSearchPreview(responses.WebSearchPreviewToolTypeWebSearchPreview)}
		}
		t.Run(typ+"/non-stream", func(t *testing.T) {
			r, err := e.client.Responses.New(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			text, got := responsesSources(t, r)
			if text != wantText() || r.OutputText() != wantText() {
				t.Errorf("text %q, want %q", text, wantText())
			}
			checkSources(t, "output_text.annotations", got)
		})
		t.Run(typ+"/stream", func(t *testing.T) {
			s := e.respStream(t, p)
			if s.text != wantText() {
				t.Errorf("deltas %q, want %q", s.text, wantText())
			}
			if n := slices.Index(s.types, "response.output_text.annotation.added"); n < 0 ||
				n > slices.Index(s.types, "response.output_text.done") {
				t.Errorf("annotation.added missing or after output_text.done: %v", s.types)
			}
			text, got := responsesSources(t, &s.final)
			if text != wantText() {
				t.Errorf("final text %q", text)
			}
			checkSources(t, "final annotations", got)
		})
	}
	t.Run("no search tool", func(t *testing.T) {
		r, err := e.client.Responses.New(context.Background(), respParams(searchPrompt()))
		if err != nil {
			t.Fatal(err)
		}
		if _, got := responsesSources(t, r); len(got) != 0 {
			t.Errorf("annotations without search: %v", got)
		}
	})
}

// anthropicSearch checks a message: server_tool_use, web_search_tool_result
// with the sources, then the unchanged text.
func anthropicSearch(t *testing.T, msg anthropic.Message) {
	t.Helper()
	var types []string
	var text string
	var got []qwenfake.SearchSource
	var useID string
	for _, b := range msg.Content {
		types = append(types, b.Type)
		switch b.Type {
		case "server_tool_use":
			useID = b.ID
			if b.Name != "web_search" {
				t.Errorf("server_tool_use name %q", b.Name)
			}
		case "web_search_tool_result":
			if b.ToolUseID != useID || useID == "" {
				t.Errorf("tool_use_id %q, server_tool_use id %q", b.ToolUseID, useID)
			}
			for _, r := range b.Content.OfWebSearchResultBlockArray {
				got = append(got, qwenfake.SearchSource{URL: r.URL, Title: r.Title})
			}
		case "text":
			text += b.Text
		}
	}
	if !slices.Equal(types, []string{"server_tool_use", "web_search_tool_result", "text"}) {
		t.Errorf("blocks %v", types)
	}
	if text != wantText() {
		t.Errorf("text %q, want %q", text, wantText())
	}
	checkSources(t, "web_search_tool_result", got)
}

func TestSearchAnthropic(t *testing.T) {
	_, c := startAnthropic(t)
	withTool := userParams(model, searchPrompt())
	withTool.Tools = []anthropic.ToolUnionParam{{OfWebSearchTool20250305: &anthropic.WebSearchTool20250305Param{}}}
	for _, tc := range []struct {
		name string
		p    anthropic.MessageNewParams
	}{
		{"web_search tool", withTool},
		{"variant", userParams(model+"-search", searchPrompt())},
	} {
		t.Run(tc.name+"/non-stream", func(t *testing.T) {
			msg, err := c.Messages.New(context.Background(), tc.p)
			if err != nil {
				t.Fatal(err)
			}
			anthropicSearch(t, *msg)
		})
		t.Run(tc.name+"/stream", func(t *testing.T) {
			msg, _, err := streamMessage(context.Background(), c, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			anthropicSearch(t, msg)
		})
	}
}

// An attempt that lists its sources and then fails without an answer is
// retried; the client sees each source once, from whichever attempt.
func TestSearchRetriedAttemptSourcesOnce(t *testing.T) {
	e := start(t, setup{})
	prompt := func(id string) string {
		return "news [[qwenfake tokens=12 seed=" + searchSeed + " fail=empty id=" + id + " times=1]]"
	}
	t.Run("openai stream", func(t *testing.T) {
		content, got := streamAnnotations(t, e, params(model+"-search", prompt("oa")))
		if content != wantText() {
			t.Errorf("content %q", content)
		}
		checkSources(t, "after a retry", got)
	})
	t.Run("anthropic stream", func(t *testing.T) {
		c := e.anthropicClient(apiKey)
		msg, _, err := streamMessage(context.Background(), c, userParams(model+"-search", prompt("an")))
		if err != nil {
			t.Fatal(err)
		}
		anthropicSearch(t, msg)
	})
}

// streamAnnotations streams a chat completion through openai-go and returns
// its content and the url_citation sources of its annotation deltas.
func streamAnnotations(t *testing.T, e *env, p openai.ChatCompletionNewParams) (string, []qwenfake.SearchSource) {
	t.Helper()
	st := e.client.Chat.Completions.NewStreaming(context.Background(), p)
	defer st.Close()
	var content strings.Builder
	var got []qwenfake.SearchSource
	for st.Next() {
		for _, ch := range st.Current().Choices {
			content.WriteString(ch.Delta.Content)
			if f, ok := ch.Delta.JSON.ExtraFields["annotations"]; ok {
				got = append(got, openaiAnnotations(t, f.Raw())...)
			}
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	return content.String(), got
}
