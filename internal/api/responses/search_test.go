package responses

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

func TestDecodeWebSearchTools(t *testing.T) {
	fn := `{"type":"function","name":"f","parameters":{"type":"object"}}`
	for _, tc := range []struct {
		name, tools string
		search      bool
		nTools      int
	}{
		{"none", `[]`, false, 0},
		{"function only", `[` + fn + `]`, false, 1},
		{"web_search", `[{"type":"web_search"}]`, true, 0},
		{"web_search_preview", `[{"type":"web_search_preview","search_context_size":"low"}]`, true, 0},
		{"dated preview", `[{"type":"web_search_preview_2025_03_11"}]`, true, 0},
		{"dated web_search", `[{"type":"web_search_2025_08_26"}]`, true, 0},
		{"with a function", `[{"type":"web_search"},` + fn + `]`, true, 1},
		{"other hosted tool", `[{"type":"file_search","vector_store_ids":["v"]}]`, false, 0},
		{"namespace", `[{"type":"namespace","name":"n","tools":[{"type":"web_search"}]}]`, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := New(nil, 0).Decode(context.Background(), []byte(`{"model":"m","input":"hi","tools":`+tc.tools+`}`), http.Header{})
			if err != nil {
				t.Fatal(err)
			}
			if req.Search != tc.search || len(req.Tools) != tc.nTools {
				t.Errorf("Search %v tools %d, want %v %d", req.Search, len(req.Tools), tc.search, tc.nTools)
			}
		})
	}
}

type wireEvent struct {
	Type            string          `json:"type"`
	AnnotationIndex *int            `json:"annotation_index"`
	Annotation      *URLCitation    `json:"annotation"`
	Part            json.RawMessage `json:"part"`
	Item            json.RawMessage `json:"item"`
}

func streamEvents(t *testing.T, events []api.Event) []wireEvent {
	t.Helper()
	enc := New(nil, 0).NewStream(&api.Request{Model: "m"}, api.Meta{ID: "resp_1", Model: "m"})
	out := enc.Start(nil)
	for i := range events {
		out = enc.Event(out, &events[i])
	}
	out = enc.End(out, &api.End{FinishReason: api.FinishStop})
	var evs []wireEvent
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n\n") {
		_, data, _ := strings.Cut(f, "\ndata: ")
		var ev wireEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("%q: %v", f, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestStreamAnnotations(t *testing.T) {
	cites := []api.Event{
		{Type: api.EventCitation, Citation: &api.Citation{URL: "https://a.example/1", Title: "A"}},
		{Type: api.EventCitation, Citation: &api.Citation{URL: "https://b.example/2", Title: "B"}},
	}
	text := []api.Event{{Type: api.EventText, Text: "héllo"}}
	for _, tc := range []struct {
		name   string
		events []api.Event
	}{
		{"sources before the text", append(append([]api.Event{}, cites...), text...)},
		{"sources after the text", append(append([]api.Event{}, text...), cites...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := streamEvents(t, tc.events)
			var added []URLCitation
			doneAt, lastAdded := -1, -1
			var final json.RawMessage
			for i, ev := range evs {
				switch ev.Type {
				case "response.output_text.annotation.added":
					if ev.AnnotationIndex == nil || *ev.AnnotationIndex != len(added) || ev.Annotation == nil {
						t.Fatalf("event %+v", ev)
					}
					added = append(added, *ev.Annotation)
					lastAdded = i
				case "response.output_text.done":
					if doneAt < 0 {
						doneAt = i
					}
				case "response.content_part.done":
					final = ev.Part
				}
			}
			if len(added) != 2 || lastAdded > doneAt && tc.name == "sources before the text" {
				t.Fatalf("annotation.added %+v at %d, output_text.done at %d", added, lastAdded, doneAt)
			}
			if tc.name == "sources before the text" {
				want := URLCitation{Type: "url_citation", URL: "https://a.example/1", Title: "A", EndIndex: 5}
				if added[0] != want {
					t.Errorf("annotation %+v, want %+v", added[0], want)
				}
				var part OutputText
				if err := json.Unmarshal(final, &part); err != nil || part.Text != "héllo" || len(part.Annotations) != 2 {
					t.Errorf("content_part.done %s (%v)", final, err)
				}
			}
		})
	}
}

func TestAnswerAnnotations(t *testing.T) {
	items := answerItems("resp_1", &api.Answer{Text: "hi", Citations: []api.Citation{{URL: "https://a.example/1", Title: "A"}}})
	b, _ := json.Marshal(items)
	if !strings.Contains(string(b), `"annotations":[{"type":"url_citation","url":"https://a.example/1","title":"A","start_index":0,"end_index":2}]`) {
		t.Errorf("items %s", b)
	}
	b, _ = json.Marshal(answerItems("resp_1", &api.Answer{Text: "hi"}))
	if !strings.Contains(string(b), `"annotations":[]`) {
		t.Errorf("items without sources %s", b)
	}
}

func TestWebSearchToolOff(t *testing.T) {
	for _, on := range []bool{true, false} {
		req, err := New(nil, 0, WithWebSearch(on)).Decode(context.Background(), []byte(`{"model":"m","input":"hi","tools":[{"type":"web_search"}]}`), http.Header{})
		if err != nil || req.Search != on {
			t.Errorf("WithWebSearch(%v): Search %v, err %v", on, req != nil && req.Search, err)
		}
	}
}
