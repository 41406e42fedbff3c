package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

func TestDecodeWebSearchOptions(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, extra string
		search      bool
		badParam    string
	}{
		{"absent", ``, false, ""},
		{"null", `,"web_search_options":null`, false, ""},
		{"empty object", `,"web_search_options":{}`, true, ""},
		{"with fields", `,"web_search_options":{"search_context_size":"low","user_location":{"type":"approximate"}}`, true, ""},
		{"string", `,"web_search_options":"yes"`, false, "web_search_options"},
		{"array", `,"web_search_options":[]`, false, "web_search_options"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Codec{}.Decode(context.Background(), []byte(`{"model":"m",`+msgs+tc.extra+`}`), http.Header{})
			if tc.badParam != "" {
				var p *api.Problem
				if !errors.As(err, &p) || p.Param != tc.badParam || p.Status != http.StatusBadRequest {
					t.Fatalf("err = %v, want a 400 on %s", err, tc.badParam)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Search != tc.search {
				t.Errorf("Search = %v, want %v", req.Search, tc.search)
			}
		})
	}
}

func citeEvents() []api.Event {
	return []api.Event{
		{Type: api.EventCitation, Citation: &api.Citation{URL: "https://a.example/1", Title: "A \"q\""}},
		{Type: api.EventCitation, Citation: &api.Citation{URL: "https://b.example/2?x=1&y=2", Title: ""}},
		{Type: api.EventText, Text: "héllo"},
		{Type: api.EventText, Text: " wörld"},
	}
}

func TestStreamAnnotations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []api.Event
		want   int // annotations expected
	}{
		{"sources", citeEvents(), 2},
		{"no sources", citeEvents()[2:], 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := Codec{}.NewStream(&api.Request{}, api.Meta{ID: "chatcmpl-1", Model: "m-search"})
			var out []byte
			for i := range tc.events {
				out = enc.Event(out, &tc.events[i])
			}
			out = enc.End(out, &api.End{FinishReason: api.FinishStop})
			var content strings.Builder
			var anns []Annotation
			roles, finishAt, annAt := 0, -1, -1
			frames := strings.Split(strings.TrimSpace(string(out)), "\n\n")
			for i, f := range frames {
				data := strings.TrimPrefix(f, "data: ")
				if data == "[DONE]" {
					continue
				}
				var c struct {
					Choices []struct {
						Delta struct {
							Role        string       `json:"role"`
							Content     string       `json:"content"`
							Annotations []Annotation `json:"annotations"`
						} `json:"delta"`
						FinishReason *string `json:"finish_reason"`
					} `json:"choices"`
				}
				if err := json.Unmarshal([]byte(data), &c); err != nil {
					t.Fatalf("frame %q: %v", data, err)
				}
				d := c.Choices[0].Delta
				content.WriteString(d.Content)
				if d.Role != "" {
					roles++
				}
				if len(d.Annotations) > 0 {
					anns, annAt = d.Annotations, i
				}
				if c.Choices[0].FinishReason != nil {
					finishAt = i
				}
			}
			if content.String() != "héllo wörld" || roles != 1 {
				t.Errorf("content %q, roles %d", content.String(), roles)
			}
			if len(anns) != tc.want {
				t.Fatalf("annotations %+v, want %d", anns, tc.want)
			}
			if tc.want == 0 {
				return
			}
			if annAt < 0 || annAt > finishAt {
				t.Errorf("annotations in frame %d, finish in %d", annAt, finishAt)
			}
			want := URLCitation{URL: "https://a.example/1", Title: "A \"q\"", StartIndex: 0, EndIndex: 11}
			if anns[0].Type != "url_citation" || anns[0].URLCitation != want || anns[1].URLCitation.URL != "https://b.example/2?x=1&y=2" {
				t.Errorf("annotations %+v", anns)
			}
		})
	}
}

func TestAnswerAnnotations(t *testing.T) {
	ans := &api.Answer{Text: "héllo", Citations: []api.Citation{{URL: "https://a.example/1", Title: "A"}}}
	_, body := Codec{}.Answer(&api.Request{}, api.Meta{ID: "x"}, ans)
	var c ChatCompletion
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	got := c.Choices[0].Message.Annotations
	if len(got) != 1 || got[0].URLCitation != (URLCitation{URL: "https://a.example/1", Title: "A", EndIndex: 5}) {
		t.Errorf("annotations %+v", got)
	}
	_, body = Codec{}.Answer(&api.Request{}, api.Meta{ID: "x"}, &api.Answer{Text: "x"})
	if strings.Contains(string(body), "annotations") {
		t.Errorf("annotations without sources: %s", body)
	}
}
