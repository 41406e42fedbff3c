package qwen

import (
	"context"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// TestSearchBody checks how a search request is asked for
// (docs/qwen-protocol.md §6.2), in both body styles and both search styles.
func TestSearchBody(t *testing.T) {
	for _, tc := range []struct {
		name, body, style string
		search            bool
		chatType          string
		autoSearch        bool
	}{
		{"off browser", BodyBrowser, "", false, "t2t", false},
		{"off simple", BodySimple, SearchAutoSearch, false, "t2t", false},
		{"chat_type browser", BodyBrowser, "", true, "search", false},
		{"chat_type simple", BodySimple, SearchChatType, true, "search", false},
		{"auto_search browser", BodyBrowser, SearchAutoSearch, true, "t2t", true},
		{"auto_search simple", BodySimple, SearchAutoSearch, true, "t2t", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, serveSSE(readTestdata(t, "v2_fast_answer.sse")))
			c := f.client(t, func(o *Options) { o.BodyStyle, o.SearchStyle = tc.body, tc.style })
			req := userReq("what happened today?")
			req.Search = tc.search
			if _, err := run(context.Background(), c, req); err != nil {
				t.Fatal(err)
			}
			comp, _ := f.last("/api/v2/chat/completions")
			b := mustJSON(t, comp.Body)
			m := b["messages"].([]any)[0].(map[string]any)
			if m["chat_type"] != tc.chatType {
				t.Errorf("message chat_type = %v, want %s", m["chat_type"], tc.chatType)
			}
			sub := b["sub_chat_type"] // simple body
			if tc.body == BodyBrowser {
				sub = m["sub_chat_type"]
				if meta := m["extra"].(map[string]any)["meta"].(map[string]any); meta["subChatType"] != tc.chatType {
					t.Errorf("extra.meta.subChatType = %v", meta["subChatType"])
				}
			} else if b["chat_type"] != tc.chatType {
				t.Errorf("chat_type = %v", b["chat_type"])
			}
			if sub != tc.chatType {
				t.Errorf("sub_chat_type = %v, want %s", sub, tc.chatType)
			}
			if got := fc(t, b)["auto_search"]; got != tc.autoSearch {
				t.Errorf("auto_search = %v, want %v", got, tc.autoSearch)
			}
		})
	}
}

func TestSearchStyleValidated(t *testing.T) {
	if _, err := New(Options{BaseURL: "http://127.0.0.1:1", HTTPClient: newTestClient(t, "http://127.0.0.1:1", nil).opts.HTTPClient,
		SearchStyle: "bing"}); err == nil {
		t.Fatal("an unknown search style was accepted")
	}
}

// TestEmulatorSearch runs search answers against qwenfake: the sources of
// its web_search frames (cumulative, one with role function) come out
// once each, in order, and the answer text is the same as without search.
func TestEmulatorSearch(t *testing.T) {
	_, client, cred := emulator(t, qwenfake.Options{})
	for _, tc := range []struct {
		name   string
		opts   func(*Options)
		search bool
	}{
		{"chat_type", nil, true},
		{"auto_search", func(o *Options) { o.SearchStyle = SearchAutoSearch }, true},
		{"simple body", func(o *Options) { o.BodyStyle = BodySimple }, true},
		{"off", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := userReq("news? [[qwenfake tokens=9 seed=s1]]")
			req.Search = tc.search
			o := runCred(t, client(tc.opts), cred, req)
			if o.err != nil {
				t.Fatal(o.err)
			}
			if got, want := o.text(upstream.EventContent), qwenfake.AnswerText("s1", 9); got != want {
				t.Errorf("answer %q, want %q", got, want)
			}
			var got []qwenfake.SearchSource
			for _, e := range o.events {
				if e.Type == upstream.EventCitation {
					got = append(got, qwenfake.SearchSource{URL: e.Citation.URL, Title: e.Citation.Title})
				}
			}
			want := qwenfake.SearchSources("s1")
			if !tc.search {
				want = nil
			}
			if len(got) != len(want) {
				t.Fatalf("citations %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("citation %d = %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestModelsSearch(t *testing.T) {
	_, client, cred := emulator(t, qwenfake.Options{Models: []qwenfake.Model{
		{ID: "can", Name: "Can", ChatTypes: []string{"t2t", "search"}},
		{ID: "cannot", Name: "Cannot", ChatTypes: []string{"t2t", "t2i"}},
	}})
	models, err := client(nil).ListModels(context.Background(), cred)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range models {
		got[m.ID] = m.Search
	}
	if !got["can"] || got["cannot"] || len(got) != 2 {
		t.Errorf("search per model: %v", got)
	}
}
