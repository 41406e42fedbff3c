package qwenfake

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

const toolsPrompt = "system: # Tools\n\n<tools>\n" +
	`{"type":"function","function":{"name":"write_file","parameters":{}}}` + "\n</tools>\n\nuser: go "

func TestToolAnswerStream(t *testing.T) {
	tests := []struct {
		name      string
		directive string
		thinking  bool
		wantThink string // "" or "plan": the plan's reasoning; "vocab": the usual pieces
	}{
		{"hermes answer", "calls=2 calltext=both seed=a", false, ""},
		{"xml after thinking", "calls=1 callfmt=xml seed=b think=3", true, "vocab"},
		{"calls alone in thinking", "calls=2 callwhere=thinking calltext=after seed=c", true, "plan"},
		{"thinking forced", "calls=1 callwhere=thinking seed=d", false, "plan"},
		{"fixed chunks", "calls=1 chunk=5 seed=e", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, Options{})
			id := e.newChat("qwen3.7-plus")
			content := toolsPrompt + "[[qwenfake " + tt.directive + "]]"
			_, res := e.complete(simpleBody(id, "qwen3.7-plus", content, tt.thinking, "detail"))
			d, _ := ParseDirective(content)
			plan := d.ToolPlan("write_file", 16)
			if res.answer != plan.Answer() || !res.finished || res.bad != 0 {
				t.Fatalf("answer %q\nwant %q (finished %v)", res.answer, plan.Answer(), res.finished)
			}
			switch tt.wantThink {
			case "plan":
				if res.think != plan.Reasoning() {
					t.Fatalf("think %q, want %q", res.think, plan.Reasoning())
				}
			case "vocab":
				if res.think != ReasoningText("b", 3) {
					t.Fatalf("think %q", res.think)
				}
			default:
				if res.think != "" {
					t.Fatalf("think %q", res.think)
				}
			}
			if !strings.Contains(plan.Answer()+plan.Reasoning(), `"name": "write_file"`) &&
				!strings.Contains(plan.Answer(), "<function=write_file>") {
				t.Fatalf("the declared tool is not called: %q", plan.Answer())
			}
			maxFrame := 4 // 3 bytes, or one 4-byte character
			if d.Chunk > 0 {
				maxFrame = max(d.Chunk, 4)
			}
			frames := 0
			for _, f := range res.frames {
				if len(f.Choices) > 0 && f.Choices[0].Delta.Content != "" {
					frames++
					if tt.wantThink == "vocab" && *f.Choices[0].Delta.Phase == "think" {
						continue // the usual reasoning pieces
					}
					if n := len(f.Choices[0].Delta.Content); n > maxFrame {
						t.Fatalf("frame of %d bytes: %q", n, f.Choices[0].Delta.Content)
					}
				}
			}
			if frames != res.lastUsage {
				t.Fatalf("%d content frames, usage %d", frames, res.lastUsage)
			}
		})
	}
}

func TestProseThenCalls(t *testing.T) {
	e := start(t, Options{})
	content := toolsPrompt + "[[qwenfake calls=1 prose=1 id=p1 tokens=4 seed=s]]"
	d, _ := ParseDirective(content)
	plan := d.ToolPlan("write_file", 16)
	want := []string{AnswerText("s", 4), plan.Answer(), plan.Answer()}
	for i, w := range want {
		_, res := e.complete(simpleBody(e.newChat("qwen3.7-plus"), "qwen3.7-plus", content, false, ""))
		if res.answer != w {
			t.Fatalf("request %d: %q, want %q", i, res.answer, w)
		}
	}
	e.fake.Reset()
	_, res := e.complete(simpleBody(e.newChat("qwen3.7-plus"), "qwen3.7-plus", content, false, ""))
	if res.answer != want[0] {
		t.Fatalf("after Reset: %q", res.answer)
	}
}

func TestEchoAndFailures(t *testing.T) {
	tests := []struct {
		name, directive string
		want            func(content string) string
	}{
		{"echo", "echo=1", func(c string) string { return c }},
		{"echo wins over calls", "echo=1 calls=2", func(c string) string { return c }},
		{"echo json", "echo=json", func(c string) string { b, _ := json.Marshal(c); return string(b) }},
		{"empty beats calls", "calls=2 fail=empty", func(string) string { return "" }},
		{"think_only beats calls", "calls=2 fail=think_only", func(string) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, Options{})
			content := toolsPrompt + "你好 \"x\" [[qwenfake " + tt.directive + "]]"
			_, res := e.complete(simpleBody(e.newChat("qwen3.7-plus"), "qwen3.7-plus", content, false, ""))
			if want := tt.want(content); res.answer != want || !res.finished {
				t.Fatalf("answer %q, want %q", res.answer, want)
			}
		})
	}
}

func TestToolAnswerInHistoryStored(t *testing.T) {
	e := start(t, Options{})
	id := e.newChat("qwen3.7-plus")
	content := toolsPrompt + "[[qwenfake calls=1 seed=h]]"
	e.complete(simpleBody(id, "qwen3.7-plus", content, false, ""))
	raw, err := json.Marshal(e.jsonCall("GET", "/api/v2/chats/"+id, nil, 200))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := ParseDirective(content)
	want, _ := json.Marshal(d.ToolPlan("write_file", 16).Answer())
	if !strings.Contains(string(raw), string(want)) {
		t.Fatalf("chat detail lacks the tool answer %s: %s", want, raw)
	}
}

func TestToolAnswerLegacy(t *testing.T) {
	content := toolsPrompt + "[[qwenfake calls=2 callwhere=thinking calltext=after seed=l tokens=3]]"
	d, _ := ParseDirective(content)
	plan := d.ToolPlan("write_file", 16)
	tests := []struct {
		name        string
		incremental bool
	}{{"cumulative", false}, {"incremental", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, Options{})
			resp := e.do(context.Background(), "POST", "/api/chat/completions", legacyBody("qwen3.7-plus", content, false, tt.incremental, true))
			res := readStream(resp.Body)
			resp.Body.Close()
			if !tt.incremental {
				last := res.frames[len(res.frames)-1].Choices[0].Delta.Content
				if want := legacyThinkOpen + plan.Reasoning() + legacyThinkClose + plan.Answer(); last != want {
					t.Fatalf("final %q\nwant %q", last, want)
				}
				return
			}
			if res.think != plan.Reasoning() || res.answer != plan.Answer() {
				t.Fatalf("think %q answer %q", res.think, res.answer)
			}
		})
	}
}
