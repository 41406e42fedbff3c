package qwenfake

import (
	"encoding/json"
	"testing"
)

func TestSearchFrames(t *testing.T) {
	models := []Model{
		{ID: "can", Name: "Can", ChatTypes: []string{"t2t", "search"}},
		{ID: "cannot", Name: "Cannot", ChatTypes: []string{"t2t"}},
	}
	for _, tc := range []struct {
		name   string
		model  string
		mutate func(map[string]any)
		search bool
	}{
		{"chat_type on the message", "can", func(b map[string]any) { msg(b)["chat_type"] = "search" }, true},
		{"chat_type at the top (simple body)", "can", func(b map[string]any) { b["chat_type"] = "search" }, true},
		{"auto_search", "can", func(b map[string]any) { msg(b)["feature_config"].(map[string]any)["auto_search"] = true }, true},
		{"not asked", "can", func(map[string]any) {}, false},
		{"model without search", "cannot", func(b map[string]any) { msg(b)["chat_type"] = "search" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, Options{Models: models})
			body := browserBody(e.newChat(tc.model), tc.model, "q [[qwenfake tokens=5 seed=z]]", false, "")
			tc.mutate(body)
			_, res := e.complete(body)
			if res.answer != AnswerText("z", 5) || !res.finished || res.bad != 0 {
				t.Fatalf("answer %q finished %v bad %d", res.answer, res.finished, res.bad)
			}
			var lists [][]SearchSource
			var roles []string
			for _, raw := range res.raw {
				var f struct {
					Choices []struct {
						Delta struct {
							Role  string `json:"role"`
							Phase string `json:"phase"`
							Extra struct {
								Info []SearchSource `json:"web_search_info"`
							} `json:"extra"`
						} `json:"delta"`
					} `json:"choices"`
				}
				if json.Unmarshal([]byte(raw), &f) != nil || len(f.Choices) == 0 || f.Choices[0].Delta.Phase != "web_search" {
					continue
				}
				lists = append(lists, f.Choices[0].Delta.Extra.Info)
				roles = append(roles, f.Choices[0].Delta.Role)
			}
			if !tc.search {
				if len(lists) != 0 {
					t.Errorf("search frames without search: %v", lists)
				}
				return
			}
			all := SearchSources("z")
			if len(lists) != searchFrames || roles[0] != "function" || roles[1] != "assistant" {
				t.Fatalf("frames %v roles %v", lists, roles)
			}
			for i, l := range lists {
				n := searchCount(i)
				if len(l) != n {
					t.Fatalf("frame %d lists %d sources, want %d (cumulative)", i, len(l), n)
				}
				for j := range l {
					if l[j] != all[j] {
						t.Errorf("frame %d source %d = %+v, want %+v", i, j, l[j], all[j])
					}
				}
			}
			if len(lists[searchFrames-1]) != len(all) {
				t.Errorf("the last frame lists %d of %d sources", len(lists[searchFrames-1]), len(all))
			}
		})
	}
}

func msg(b map[string]any) map[string]any { return b["messages"].([]any)[0].(map[string]any) }
