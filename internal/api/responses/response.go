package responses

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// base is the Response object before any output: status in_progress, the
// request's settings echoed.
func (c *Codec) base(req *api.Request, meta api.Meta) *Response {
	ex, _ := req.Extra.(*extra)
	if ex == nil {
		ex = &extra{store: true, parallel: req.Parallel, truncation: "disabled"}
	}
	r := &Response{ID: meta.ID, Object: "response", CreatedAt: meta.Created, Status: "in_progress",
		Instructions: ex.instructions, MaxOutputTokens: ex.maxOutputTokens, Model: meta.Model, Output: []any{},
		ParallelToolCalls: ex.parallel, Reasoning: ResponseReasoning{Effort: ex.effort, Summary: ex.summary},
		Store: ex.store, Temperature: ex.temperature, TopP: ex.topP, Text: ex.text,
		ToolChoice: ex.toolChoice, Tools: ex.tools, Truncation: ex.truncation, User: ex.user, Metadata: ex.metadata}
	if ex.previousID != "" {
		r.PreviousResponseID = &ex.previousID
	}
	if isAbsent(r.Text) {
		r.Text = json.RawMessage(`{"format":{"type":"text"}}`)
	}
	if isAbsent(r.ToolChoice) {
		r.ToolChoice = json.RawMessage(`"auto"`)
	}
	if isAbsent(r.Tools) {
		r.Tools = json.RawMessage(`[]`)
	}
	if isAbsent(r.Metadata) {
		r.Metadata = json.RawMessage(`{}`)
	}
	return r
}

// answerItems renders a whole answer's output: its reasoning, its text and
// its calls, in that order.
func answerItems(respID string, ans *api.Answer) []any {
	var items []any
	if ans.Reasoning != "" {
		items = append(items, reasoningItem(itemID("rs", respID, 0), ans.Reasoning))
	}
	if ans.Text != "" || len(ans.Calls) == 0 {
		items = append(items, messageItem(itemID("msg", respID, 0), ans.Text, "completed", ans.Citations))
	}
	for _, call := range ans.Calls {
		items = append(items, callItem(respID, call, "completed"))
	}
	return items
}

func reasoningItem(id, text string) ReasoningItem {
	it := ReasoningItem{ID: id, Type: "reasoning", Summary: []SummaryText{}}
	if text != "" {
		it.Summary = append(it.Summary, SummaryText{Type: "summary_text", Text: text})
	}
	return it
}

func messageItem(id, text, status string, cites []api.Citation) MessageItem {
	it := MessageItem{ID: id, Type: "message", Status: status, Role: "assistant", Content: []OutputText{}}
	if status == "completed" {
		it.Content = append(it.Content, outputText(text, cites))
	}
	return it
}

func outputText(text string, cites []api.Citation) OutputText {
	anns := make([]any, len(cites))
	n := utf8.RuneCountInString(text)
	for i, c := range cites {
		anns[i] = urlCitation(c, n)
	}
	return OutputText{Type: "output_text", Text: text, Annotations: anns}
}

// URLCitation is a url_citation annotation of an output_text part. The
// upstream names its sources for the whole answer (docs/qwen-protocol.md
// §3.5), so each spans the whole text: start_index 0, end_index its
// length in characters.
type URLCitation struct {
	Type       string `json:"type"` // url_citation
	URL        string `json:"url"`
	Title      string `json:"title"`
	StartIndex int    `json:"start_index"`
	EndIndex   int    `json:"end_index"`
}

func urlCitation(c api.Citation, n int) URLCitation {
	return URLCitation{Type: "url_citation", URL: c.URL, Title: c.Title, EndIndex: n}
}

// callItem renders a call; in_progress items carry no arguments yet.
func callItem(respID string, call toolcall.Call, status string) any {
	if call.Custom {
		it := CustomCallItem{ID: itemID("ctc", respID, call.Index+1), Type: "custom_tool_call", Status: status,
			CallID: call.ID, Name: call.Name}
		if status == "completed" {
			it.Input = call.Input
		}
		return it
	}
	it := FunctionCallItem{ID: itemID("fc", respID, call.Index+1), Type: "function_call", Status: status,
		CallID: call.ID, Name: call.Name}
	if status == "completed" {
		it.Arguments = call.Arguments
	}
	return it
}

// finish sets the final status, usage and output_text.
func finish(r *Response, end *api.End) {
	r.Status = "completed"
	switch end.FinishReason {
	case api.FinishLength:
		r.Status, r.IncompleteDetails = "incomplete", &Incomplete{Reason: "max_output_tokens"}
	case api.FinishContentFilter:
		r.Status, r.IncompleteDetails = "incomplete", &Incomplete{Reason: "content_filter"}
	}
	u := end.Usage
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	r.Usage = &Usage{InputTokens: u.PromptTokens, InputTokensDetails: InputTokensDetails{CachedTokens: u.CachedTokens},
		OutputTokens: u.CompletionTokens, OutputTokensDetails: OutputTokensDetails{ReasoningTokens: u.ReasoningTokens},
		TotalTokens: total}
	r.OutputText = ""
	for _, it := range r.Output {
		if m, ok := it.(MessageItem); ok {
			for _, p := range m.Content {
				r.OutputText += p.Text
			}
		}
	}
}
