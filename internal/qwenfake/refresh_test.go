package qwenfake

import (
	"strings"
	"testing"
	"time"
)

// Tests of what the emulator learned from docs/qwen-protocol.md §11 and of
// the chat counters.

func TestTokenCookie(t *testing.T) {
	e := start(t, Options{})
	tok := e.token
	e.token = "" // the helper's Authorization header becomes "Bearer "
	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"cookie only", []string{"Authorization", "", "Cookie", "ssxmod_itna=1; token=" + tok}, 200},
		{"header only", []string{"Authorization", "Bearer " + tok}, 200},
		{"both", []string{"Authorization", "Bearer " + tok, "Cookie", "token=" + tok}, 200},
		{"neither", []string{"Authorization", ""}, 401},
		{"other cookies only", []string{"Authorization", "", "Cookie", "ssxmod_itna=1"}, 401},
		{"bad cookie", []string{"Authorization", "", "Cookie", "token=a.b.c"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.jsonCall("GET", "/api/models", nil, tt.status, tt.hdr...)
			v := e.jsonCall("GET", "/api/v1/auths/", nil, tt.status, tt.hdr...)
			if tt.status == 200 && v["token"] != tok {
				t.Errorf("auths token %v", v["token"])
			}
		})
	}
}

func TestDualStream(t *testing.T) {
	e := start(t, Options{})
	for _, thinking := range []bool{false, true} {
		id := e.newChat("qwen3.7-plus")
		_, res := e.complete(browserBody(id, "qwen3.7-plus", "[[qwenfake tokens=5 think=3 seed=d dual=1]]", thinking, "detail"))
		var created []string
		answers := map[string]string{}
		for _, f := range res.frames {
			if c := f.Created; c != nil {
				if c.ChatID != id || c.ParentID != "fid-1" || c.ResponseIndex != map[int]string{0: "0", 1: "1"}[len(created)] {
					t.Fatalf("created %+v", c)
				}
				created = append(created, c.ResponseID)
				continue
			}
			if len(f.Choices) > 0 && (f.Choices[0].Delta.Phase == nil || *f.Choices[0].Delta.Phase == "answer") {
				answers[f.ResponseID] += f.Choices[0].Delta.Content
			}
		}
		if len(created) != 2 || created[0] == created[1] {
			t.Fatalf("created frames %v", created)
		}
		if answers[created[0]] != AnswerText("d", 5) || answers[created[1]] != DualSecondText("d", 5) ||
			answers[created[0]] == answers[created[1]] {
			t.Fatalf("answers %q", answers)
		}
		// The second candidate's frame comes first after the created frames.
		if res.frames[2].ResponseID != created[1] {
			t.Errorf("frame 2 is of %q, want the second candidate", res.frames[2].ResponseID)
		}
	}
}

func TestThinkingRequired(t *testing.T) {
	e := start(t, Options{})
	for _, m := range e.jsonCall("GET", "/api/models", nil, 200)["data"].([]any) {
		meta := m.(map[string]any)["info"].(map[string]any)["meta"].(map[string]any)
		skip := meta["think_skip"].(map[string]any)["enable"]
		if want := m.(map[string]any)["id"] != "qwen3.8-max-preview"; skip != want {
			t.Errorf("%v: think_skip.enable %v", m.(map[string]any)["id"], skip)
		}
	}
	id := e.newChat("qwen3.8-max-preview")
	for _, body := range []map[string]any{
		browserBody(id, "qwen3.8-max-preview", "[[qwenfake tokens=2]]", false, "summary"),
		simpleBody(id, "qwen3.8-max-preview", "[[qwenfake tokens=2]]", false, "summary"),
	} {
		_, res := e.complete(body)
		if len(res.raw) != 1 || !strings.Contains(res.raw[0], `"code":"invalid_input"`) {
			t.Fatalf("thinking off: %v", res.raw)
		}
	}
	_, res := e.complete(browserBody(id, "qwen3.8-max-preview", "[[qwenfake tokens=2 think=2 seed=q]]", true, "summary"))
	if !res.finished || res.answer != AnswerText("q", 2) || len(res.thoughts) == 0 {
		t.Fatalf("thinking on: %+v", res)
	}
	if e.fake.Stats().Failures[ModeInvalidInput] != 2 {
		t.Errorf("failures %v", e.fake.Stats().Failures)
	}
}

func TestChatCounters(t *testing.T) {
	e := start(t, Options{})
	a, b := e.newChat("qwen3.7-plus"), e.newChat("qwen3.7-plus")
	e.jsonCall("DELETE", "/api/v2/chats/"+a, nil, 200)
	e.jsonCall("DELETE", "/api/v2/chats/"+a, nil, 404) // not counted twice
	e.token = e.fake.MintToken("someone-else", time.Hour)
	e.jsonCall("DELETE", "/api/v2/chats/"+b, nil, 404) // not the owner
	st := e.fake.Stats()
	if st.ChatsNew != 2 || st.ChatsDeleted != 1 || st.ChatsAlive != 1 {
		t.Fatalf("stats %+v", st)
	}
	v := e.jsonCall("GET", "/qwenfake/stats", nil, 200)
	if v["ChatsNew"] != 2.0 || v["ChatsDeleted"] != 1.0 || v["ChatsAlive"] != 1.0 {
		t.Fatalf("stats endpoint %v", v)
	}
	e.fake.Reset()
	if st := e.fake.Stats(); st.ChatsNew != 0 || st.ChatsDeleted != 0 || st.ChatsAlive != 1 {
		t.Fatalf("after Reset %+v", st)
	}
}
