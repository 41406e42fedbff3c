package qwenfake

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// parseWith runs the relay's tool-call parser over reasoning and answer, cut
// into frames of size bytes, and returns the text and the calls it yields.
func parseWith(t *testing.T, reasoning, answer string, size int) (string, []toolcall.Call) {
	t.Helper()
	tools := []toolcall.Tool{{Name: "write_file", Parameters: json.RawMessage(ToolSchema)},
		{Name: "apply_patch", Custom: true}}
	p := toolcall.NewParser(tools, toolcall.Choice{Mode: toolcall.Auto}, true, toolcall.NewID)
	var evs []toolcall.Event
	feed := func(ph toolcall.Phase, s string) {
		for _, c := range chunkJSON(s, size, 1) {
			var piece string
			if err := json.Unmarshal([]byte(`"`+string(c)+`"`), &piece); err != nil {
				t.Fatalf("frame %q: %v", c, err)
			}
			evs = append(evs, p.Feed(ph, piece)...)
		}
	}
	feed(toolcall.Thinking, reasoning)
	feed(toolcall.Answer, answer)
	evs = append(evs, p.Close()...)
	var text strings.Builder
	var calls []toolcall.Call
	for _, e := range evs {
		switch e.Type {
		case toolcall.Text:
			text.WriteString(e.Text)
		case toolcall.CallEnd:
			calls = append(calls, e.Call)
		}
	}
	return text.String(), calls
}

func TestToolPlanThroughParser(t *testing.T) {
	tests := []struct {
		name      string
		directive string
		wantCalls int
		asText    bool // the blocks come back as text
	}{
		{"hermes one", "calls=1", 1, false},
		{"hermes three with prose", "calls=3 calltext=both", 3, false},
		{"xml two", "calls=2 callfmt=xml calltext=before", 2, false},
		{"json string", "calls=2 callfmt=json_string", 2, false},
		{"thinking", "calls=2 callwhere=thinking calltext=after", 2, false},
		{"thinking xml", "callfmt=xml callwhere=thinking", 1, false},
		{"bad", "calls=2 callfmt=bad calltext=both", 0, true},
		{"undeclared", "calls=1 callfmt=undeclared", 0, true},
		{"custom", "calls=2 callfmt=custom name=apply_patch calltext=before", 2, false},
		{"custom in thinking", "callfmt=custom name=apply_patch callwhere=thinking", 1, false},
	}
	for _, tt := range tests {
		for _, size := range []int{0, 1, 2, 3, 7, 1 << 20} {
			t.Run(tt.name, func(t *testing.T) {
				d, ok := ParseDirective("[[qwenfake seed=s7 tokens=5 " + tt.directive + "]]")
				if !ok || len(d.Invalid) > 0 || !d.ToolAnswer() {
					t.Fatalf("directive: %v %+v", ok, d)
				}
				plan := d.ToolPlan("write_file", 16)
				text, calls := parseWith(t, plan.Reasoning(), plan.Answer(), size)
				if len(calls) != tt.wantCalls {
					t.Fatalf("size %d: %d calls, want %d; text %q", size, len(calls), tt.wantCalls, text)
				}
				for i, c := range calls {
					if plan.Format == CallCustom {
						if !c.Custom || c.Name != "apply_patch" || c.Input != ToolCallInput("s7", i) {
							t.Fatalf("call %d: %+v\nwant input %q", i, c, ToolCallInput("s7", i))
						}
						continue
					}
					if c.Name != "write_file" || c.Arguments != ToolCallArgs("s7", i) {
						t.Fatalf("call %d: %s %s\nwant %s", i, c.Name, c.Arguments, ToolCallArgs("s7", i))
					}
				}
				if tt.asText {
					if text != plan.Answer() {
						t.Fatalf("text %q\nwant %q", text, plan.Answer())
					}
					return
				}
				if want := plan.BeforeText() + plan.AfterText(); strings.TrimSpace(text) != strings.TrimSpace(want) {
					t.Fatalf("text %q, want %q", text, want)
				}
			})
		}
	}
}

func TestToolCallArgs(t *testing.T) {
	a := ToolCallArgs("seed", 0)
	var v struct {
		Path    string `json:"path"`
		Content string `json:"content"`
		Count   int    `json:"count"`
	}
	if err := json.Unmarshal([]byte(a), &v); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	for _, hard := range []string{`"`, `\`, "\n", "你好", "</tool_call>"} {
		if !strings.Contains(v.Content+v.Path, hard) {
			t.Errorf("arguments lack %q: %s", hard, a)
		}
	}
	if v.Count != 1 || ToolCallArgs("seed", 0) != a || ToolCallArgs("seed", 1) == a || ToolCallArgs("other", 0) == a {
		t.Fatalf("not deterministic per seed and index: %s", a)
	}
}

func TestDirectiveToolKeys(t *testing.T) {
	tests := []struct {
		text    string
		tool    bool
		want    ToolPlan
		invalid int
	}{
		{"[[qwenfake calls=2 callfmt=xml callwhere=thinking calltext=both name=f tokens=3 seed=q]]", true,
			ToolPlan{Seed: "q", Name: "f", Calls: 2, Format: CallXML, InThinking: true, Before: true, After: true, Tokens: 3}, 0},
		{"[[qwenfake callfmt=bad]]", true, ToolPlan{Name: "decl", Calls: 1, Format: CallBad, Tokens: 16}, 0},
		{"[[qwenfake calltext=after]]", true, ToolPlan{Name: "decl", Calls: 1, Format: CallHermes, After: true, Tokens: 16}, 0},
		{"[[qwenfake calls=0 callfmt=xml]]", false, ToolPlan{}, 0},
		{"[[qwenfake tokens=3]]", false, ToolPlan{}, 0},
		{"[[qwenfake calls=65 callfmt=yaml callwhere=x calltext=y chunk=-1 prose=z echo=maybe]]", false, ToolPlan{}, 7},
		{"[[qwenfake echo=json calls=1]]", true, ToolPlan{Name: "decl", Calls: 1, Format: CallHermes, Tokens: 16}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			d, _ := ParseDirective(tt.text)
			if len(d.Invalid) != tt.invalid || d.ToolAnswer() != tt.tool {
				t.Fatalf("invalid %q tool %v", d.Invalid, d.ToolAnswer())
			}
			if tt.tool {
				if got := d.ToolPlan("decl", 16); got != tt.want {
					t.Fatalf("plan %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

func TestDeclaredTool(t *testing.T) {
	tests := []struct{ text, want string }{
		{"system: # Tools\n<tools>\n{\"type\":\"function\",\"function\":{\"name\":\"read_file\"}}\n{\"type\":\"function\",\"function\":{\"name\":\"b\"}}\n</tools>", "read_file"},
		{"<tools>\n{\"name\":\"plain\"}\n</tools>", "plain"},
		{"<tools>\nnot json\n</tools>", ""},
		{"no tools here", ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := declaredTool(tt.text); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChunkJSON(t *testing.T) {
	text := "a<tool_call>你好🙂\"\\\n"
	for _, size := range []int{0, 1, 2, 3, 100} {
		var got strings.Builder
		for _, c := range chunkJSON(text, size, 42) {
			var s string
			if err := json.Unmarshal([]byte(`"`+string(c)+`"`), &s); err != nil || !utf8.ValidString(s) {
				t.Fatalf("size %d: bad frame %q", size, c)
			}
			if n := len(s); n > max(size, 3) && utf8.RuneCountInString(s) > 1 {
				t.Fatalf("size 0: frame of %d bytes %q", n, s)
			}
			got.WriteString(s)
		}
		if got.String() != text {
			t.Fatalf("size %d: %q", size, got.String())
		}
	}
}
