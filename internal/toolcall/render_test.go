package toolcall

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	cases := []struct {
		name     string
		tools    []Tool
		choice   Choice
		parallel bool
		has      []string
		hasNot   []string
	}{
		{"no tools", nil, Choice{}, true, nil, []string{"<tools>"}},
		{"auto parallel", testTools, Choice{}, true,
			[]string{
				"<tools>\n{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather for a city.\"," +
					"\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"}},\"required\":[\"city\"]}}}\n",
				"<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
				"otherwise reply in plain text", "several calls in one reply", "free-form text", `Input format:\n*** Begin Patch`,
				"no JSON escaping, in this form instead:\n<tool_call>\n<function=<function-name>>\n<parameter=input>\n<the text>\n</parameter>\n</function>\n</tool_call>\n",
				"<tool_response></tool_response>",
			},
			[]string{"at most one call", "\\u003c"}},
		{"required serial", testTools[:1], Choice{Mode: Required}, false,
			[]string{"must call at least one", "at most one call"}, []string{"free-form", "several calls"}},
		{"named lists only that tool", testTools, Choice{Mode: Function, Name: "search"}, true,
			[]string{`"name":"search"`, `must call the function "search"`}, []string{"get_weather", "apply_patch"}},
		{"none offers nothing", testTools, Choice{Mode: None}, true,
			[]string{"No tools are available"}, []string{"<tools>", "get_weather"}},
		{"html kept as is", []Tool{{Name: "x", Description: "a <b> & c"}}, Choice{}, true,
			[]string{`"description":"a <b> & c","parameters":{"type":"object","properties":{}}`}, nil},
		{"$schema dropped", []Tool{{Name: "x", Parameters: json.RawMessage(
			`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string","description":"<$schema>"}}}`)}},
			Choice{}, true, []string{`"parameters":{"properties":{"a":{"type":"string","description":"<$schema>"}},"type":"object"}`}, []string{"draft-07"}},
		{"invalid schema replaced", []Tool{{Name: "x", Parameters: json.RawMessage("{oops")}}, Choice{}, true,
			[]string{`"parameters":{"type":"object","properties":{}}`}, []string{"oops"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Render(tc.tools, tc.choice, tc.parallel)
			for _, s := range tc.has {
				if !strings.Contains(got, s) {
					t.Errorf("missing %q in:\n%s", s, got)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(got, s) {
					t.Errorf("unexpected %q in:\n%s", s, got)
				}
			}
		})
	}
}

// TestRenderSignaturesAreJSON: every line inside <tools> is one valid JSON
// object.
func TestRenderSignaturesAreJSON(t *testing.T) {
	got := Render(testTools, Choice{}, true)
	body := got[strings.Index(got, "\n<tools>\n")+len("\n<tools>\n") : strings.Index(got, "\n</tools>\n")]
	lines := strings.Split(body, "\n")
	if len(lines) != len(testTools) {
		t.Fatalf("%d lines for %d tools", len(lines), len(testTools))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("invalid signature %s", l)
		}
	}
}

func TestRenderCall(t *testing.T) {
	cases := []struct {
		name string
		call Call
		want string
	}{
		{"object", Call{Name: "get_weather", Arguments: `{ "city" : "Paris" }`},
			"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call>"},
		{"empty", Call{Name: "f"}, "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>"},
		{"broken arguments kept as string", Call{Name: "f", Arguments: `{"a": `},
			"<tool_call>\n{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": \"}\n</tool_call>"},
		{"custom", Call{Name: "apply_patch", Custom: true, Input: "*** Begin Patch\n<x> \"q\"\n"},
			"<tool_call>\n<function=apply_patch>\n<parameter=input>\n*** Begin Patch\n<x> \"q\"\n\n</parameter>\n</function>\n</tool_call>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := RenderCall(tc.call); got != tc.want {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestRenderCallRoundTrip: what RenderCall writes, the Parser reads back as
// the same call.
func TestRenderCallRoundTrip(t *testing.T) {
	calls := []Call{
		{Name: "get_weather", Arguments: `{"city":"東京","days":3}`},
		{Name: "search", Arguments: `{"query":"</tool_call> \"q\"\n"}`},
		{Name: "apply_patch", Custom: true, Input: "*** Begin Patch\n+</tool_call>\n*** End Patch\n"},
	}
	var in strings.Builder
	var want []string
	for _, c := range calls {
		in.WriteString(RenderCall(c) + "\n")
		if c.Custom {
			want = append(want, "custom:"+c.Name+" "+c.Input)
		} else {
			want = append(want, "call:"+c.Name+" "+c.Arguments)
		}
	}
	for how, frames := range splits([]frame{ans(in.String())}, false) {
		evs, _ := run(t, testTools, Choice{}, true, frames)
		if got := summary(evs); !slices.Equal(got, want) {
			t.Fatalf("split %s:\n got %q\nwant %q", how, got, want)
		}
	}
}

func TestRenderResultAndReminder(t *testing.T) {
	if got := RenderResult(`{"temp": 21}`); got != "<tool_response>\n{\"temp\": 21}\n</tool_response>" {
		t.Fatalf("RenderResult = %q", got)
	}
	if got := Reminder(Choice{Mode: Function, Name: "search"}); !strings.Contains(got, `"search"`) {
		t.Fatalf("Reminder(named) = %q", got)
	}
	if got := Reminder(Choice{Mode: Required}); !strings.Contains(got, "<tool_call>") {
		t.Fatalf("Reminder(required) = %q", got)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		tools  []Tool
		choice Choice
		field  string // "" = valid
	}{
		{"valid", testTools, Choice{Mode: Function, Name: "search"}, ""},
		{"no tools auto", nil, Choice{}, ""},
		{"mcp name", []Tool{{Name: "mcp__github__create_issue"}}, Choice{Mode: Required}, ""},
		{"empty name", []Tool{{Name: ""}}, Choice{}, "tools[0].name"},
		{"bad char", []Tool{{Name: "a"}, {Name: "get weather"}}, Choice{}, "tools[1].name"},
		{"too long", []Tool{{Name: strings.Repeat("a", 129)}}, Choice{}, "tools[0].name"},
		{"duplicate", []Tool{{Name: "a"}, {Name: "a"}}, Choice{}, "tools[1].name"},
		{"schema not object", []Tool{{Name: "a", Parameters: json.RawMessage(`[1]`)}}, Choice{}, "tools[0].parameters"},
		{"schema invalid", []Tool{{Name: "a", Parameters: json.RawMessage(`{`)}}, Choice{}, "tools[0].parameters"},
		{"schema null", []Tool{{Name: "a", Parameters: json.RawMessage(`null`)}}, Choice{}, "tools[0].parameters"},
		{"custom ignores schema", []Tool{{Name: "a", Custom: true, Parameters: json.RawMessage(`x`)}}, Choice{}, ""},
		{"required without tools", nil, Choice{Mode: Required}, "tool_choice"},
		{"named unknown", testTools, Choice{Mode: Function, Name: "nope"}, "tool_choice"},
		{"bad mode", testTools, Choice{Mode: 9}, "tool_choice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.tools, tc.choice)
			var p *Problem
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.field != "" && (!errors.As(err, &p) || p.Field != tc.field):
				t.Fatalf("error %v, want a Problem on %s", err, tc.field)
			}
		})
	}
}

func TestSplitter(t *testing.T) {
	s := NewSplitter("<think>", "</think>", "")
	type step struct {
		in, out string
		tag     int
		rest    string
	}
	steps := []step{
		{"a <", "a ", -1, ""},
		{"/th", "", -1, ""},
		{"ink>b", "", 1, "b"},
		{"x<thi", "x", -1, ""},
		{"s", "<this", -1, ""},
		{"<think><", "", 0, "<"},
	}
	for i, st := range steps {
		out, tag, rest := s.Next(st.in)
		if out != st.out || tag != st.tag || rest != st.rest {
			t.Fatalf("step %d Next(%q) = %q %d %q, want %q %d %q", i, st.in, out, tag, rest, st.out, st.tag, st.rest)
		}
	}
	if _, _, _ = s.Next("<"); !s.Held() || s.Flush() != "<" || s.Held() {
		t.Fatal("Flush did not return the held byte")
	}
}
