package toolcall

import (
	"slices"
	"testing"
)

const (
	hermesParis = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
	hermesOslo  = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 2}}\n</tool_call>"
	xmlSearch   = "<tool_call>\n<function=search>\n<parameter=query>\nrust lang\n</parameter>\n" +
		"<parameter=limit>\n5\n</parameter>\n<parameter=exact>\nTrue\n</parameter>\n" +
		"<parameter=filters>\n{\"lang\": \"en\"}\n</parameter>\n<parameter=tags>\n[\"a\", \"b\"]\n</parameter>\n" +
		"</function>\n</tool_call>"
	parisCall = `call:get_weather {"city":"Paris"}`
	osloCall  = `call:get_weather {"city":"Oslo","days":2}`
)

type parserCase struct {
	name   string
	frames []frame
	want   []string
}

var parserCases = []parserCase{
	{"plain text", []frame{ans("Hello, world.\nSecond line.")}, []string{"text:Hello, world.\nSecond line."}},
	{"looks like tags", []frame{ans("a < b, <b>bold</b>, <tool_calls>, <tool_call , </tool_call> and <tool_")},
		[]string{"text:a < b, <b>bold</b>, <tool_calls>, <tool_call , </tool_call> and <tool_"}},
	{"whitespace only", []frame{ans(" \n\t\n")}, []string{"text: \n\t\n"}},
	{"cjk text", []frame{ans("天気を調べます。<i>東京</i> 🌧")}, []string{"text:天気を調べます。<i>東京</i> 🌧"}},
	{"hermes call with text around", []frame{ans("Let me check.\n" + hermesParis + "\n\nIt is done.")},
		[]string{"text:Let me check.", parisCall, "text:It is done."}},
	{"hermes call only", []frame{ans("\n\n" + hermesParis + "\n")}, []string{parisCall}},
	{"parallel blocks", []frame{ans(hermesParis + "\n" + hermesOslo)}, []string{parisCall, osloCall}},
	{"close tag inside json string", []frame{ans(
		`<tool_call>{"name": "search", "arguments": {"query": "what does </tool_call> mean"}}</tool_call>`)},
		[]string{`call:search {"query":"what does </tool_call> mean"}`}},
	{"escapes before close tag in string", []frame{ans(
		`<tool_call>{"name": "search", "arguments": {"query": "say \"hi\" \\\"</tool_call>\\\\"}}</tool_call>x`)},
		[]string{`call:search {"query":"say \"hi\" \\\"</tool_call>\\\\"}`, "text:x"}},
	{"cjk quotes newlines in args", []frame{ans(
		"<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"東京の\\\"天気\\\"\\nline2 <b>\"}}\n</tool_call>")},
		[]string{`call:search {"query":"東京の\"天気\"\nline2 <b>"}`}},
	{"raw newline and tab in a json string", []frame{ans(
		"<tool_call>{\"name\": \"search\", \"arguments\": {\"query\": \"line1\nline2\tx\"}}</tool_call>")},
		[]string{`call:search {"query":"line1\nline2\tx"}`}},
	{"invalid escapes in a json string", []frame{ans(
		`<tool_call>{"name": "search", "arguments": {"query": "it\'s \d+ \"</tool_call>"}}</tool_call>`)},
		[]string{`call:search {"query":"it's \\d+ \"</tool_call>"}`}},
	{"arguments as json string", []frame{ans(
		`<tool_call>{"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}</tool_call>`)}, []string{parisCall}},
	{"no arguments", []frame{ans(`<tool_call>{"name": "get_weather"}</tool_call>`)},
		[]string{`call:get_weather {}`}},
	{"parameters synonym and functions prefix", []frame{ans(
		`<tool_call>{"name": "functions.get_weather", "parameters": {"city": "Paris"}}</tool_call>`)},
		[]string{parisCall}},
	{"xml call typed by schema", []frame{ans("Searching.\n" + xmlSearch)},
		[]string{"text:Searching.", `call:search {"query":"rust lang","limit":5,"exact":true,"filters":{"lang":"en"},"tags":["a","b"]}`}},
	{"xml values that do not fit their type stay strings", []frame{ans(
		"<tool_call><function=search><parameter=limit>five</parameter><parameter=exact>yes</parameter>" +
			"<parameter=filters>[1]</parameter><parameter=score>null</parameter><parameter=other>7</parameter>" +
			"</function></tool_call>")},
		[]string{`call:search {"limit":"five","exact":"yes","filters":"[1]","score":null,"other":"7"}`}},
	{"xml value holding close tags and code", []frame{ans(
		"<tool_call>\n<function=search>\n<parameter=query>\nif a < b && c > \"d\" {\n\treturn \"</tool_call>\"\n}\n" +
			"</parameter>\n</function>\n</tool_call>")},
		[]string{`call:search {"query":"if a < b && c > \"d\" {\n\treturn \"</tool_call>\"\n}"}`}},
	{"xml repeated parameter keeps last value", []frame{ans(
		"<tool_call><function=get_weather><parameter=city>A</parameter><parameter=city>B</parameter></function></tool_call>")},
		[]string{`call:get_weather {"city":"B"}`}},
	{"malformed json is text", []frame{ans(
		`Hi <tool_call>{"name": "get_weather", "arguments": {"city": }}</tool_call> bye`)},
		[]string{`text:Hi <tool_call>{"name": "get_weather", "arguments": {"city": }}</tool_call> bye`}},
	{"unclosed string is text", []frame{ans(
		`<tool_call>{"name": "get_weather", "arguments": {"city": "Par}}</tool_call> tail`)},
		[]string{`text:<tool_call>{"name": "get_weather", "arguments": {"city": "Par}}</tool_call> tail`}},
	{"arguments not an object is text", []frame{ans(`<tool_call>{"name": "get_weather", "arguments": [1]}</tool_call>`)},
		[]string{`text:<tool_call>{"name": "get_weather", "arguments": [1]}</tool_call>`}},
	{"undeclared tool is text", []frame{ans("x " + `<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>`)},
		[]string{`text:x <tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>`}},
	{"undeclared xml tool is text", []frame{ans("<tool_call><function=nope></function></tool_call>")},
		[]string{"text:<tool_call><function=nope></function></tool_call>"}},
	{"xml junk between parameters is text", []frame{ans(
		"<tool_call><function=get_weather>junk<parameter=city>A</parameter></function></tool_call>")},
		[]string{"text:<tool_call><function=get_weather>junk<parameter=city>A</parameter></function></tool_call>"}},
	{"prose block is text", []frame{ans("<tool_call>hello</tool_call>")}, []string{"text:<tool_call>hello</tool_call>"}},
	{"missing close tag at the end", []frame{ans("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n")},
		[]string{parisCall}},
	{"unclosed partial block is text", []frame{ans("see <tool_call>{\"name\": \"get_")},
		[]string{"text:see <tool_call>{\"name\": \"get_"}},
	{"held tag prefix at the end is text", []frame{ans("see <tool_ca")}, []string{"text:see <tool_ca"}},
	{"xml missing parameter end, lenient close", []frame{ans(
		"<tool_call><function=get_weather><parameter=city>Paris</function></tool_call> after")},
		[]string{parisCall, "text:after"}},
	{"xml missing parameter end before the next one", []frame{ans(
		"<tool_call><function=get_weather><parameter=city>Paris\n<parameter=days>3</parameter></function></tool_call>")},
		[]string{`call:get_weather {"city":"Paris","days":3}`}},
	{"restarted call", []frame{ans(`<tool_call>{"name": ` + hermesParis)},
		[]string{`text:<tool_call>{"name":`, parisCall}}, // the space touching the call is dropped
	{"restarted call, both unclosed", []frame{ans("<tool_call>junk <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}")},
		[]string{"text:<tool_call>junk", parisCall}},
	{"custom tool hermes", []frame{ans(
		`<tool_call>{"name": "apply_patch", "arguments": {"input": "*** Begin Patch\n*** Add File: a.txt\n+hi \"x\"\n*** End Patch"}}</tool_call>`)},
		[]string{"custom:apply_patch *** Begin Patch\n*** Add File: a.txt\n+hi \"x\"\n*** End Patch"}},
	{"custom tool xml", []frame{ans(
		"<tool_call>\n<function=apply_patch>\n<parameter=input>\n*** Begin Patch\n+</tool_call>\n*** End Patch\n</parameter>\n</function>\n</tool_call>")},
		[]string{"custom:apply_patch *** Begin Patch\n+</tool_call>\n*** End Patch"}},
	{"custom tool arguments string", []frame{ans(`<tool_call>{"name": "apply_patch", "arguments": "raw {text}"}</tool_call>`)},
		[]string{"custom:apply_patch raw {text}"}},
	{"custom tool with two non-input members is text", []frame{ans(
		`<tool_call>{"name": "apply_patch", "arguments": {"a": "1", "b": "2"}}</tool_call>`)},
		[]string{`text:<tool_call>{"name": "apply_patch", "arguments": {"a": "1", "b": "2"}}</tool_call>`}},
	{"several objects in one block", []frame{ans("<tool_call>\n" +
		`{"name": "get_weather", "arguments": {"city": "Paris"}}` + "\n" +
		`{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}` + "\n</tool_call>")},
		[]string{parisCall, osloCall}},
	{"array in one block", []frame{ans("<tool_call>[" +
		`{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}` +
		"]</tool_call>")}, []string{parisCall, osloCall}},
	{"one bad object spoils the block", []frame{ans(`<tool_call>{"name": "get_weather"} {"name": "x"}</tool_call>`)},
		[]string{`text:<tool_call>{"name": "get_weather"} {"name": "x"}</tool_call>`}},
	{"fenced json", []frame{ans("<tool_call>\n```json\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n```\n</tool_call>")},
		[]string{parisCall}},
	{"thinking call standing alone", []frame{think("\n" + hermesParis + "\n"), ans("")}, []string{parisCall}},
	{"thinking call alone, stream ends in thinking", []frame{think(hermesParis)}, []string{parisCall}},
	{"thinking call alone then answer text", []frame{think(hermesParis), ans("Checking.")},
		[]string{parisCall, "text:Checking."}},
	{"thinking call repeated in answer", []frame{think(hermesParis), ans(hermesParis)}, []string{parisCall}},
	{"thinking call alone and another in answer", []frame{think(hermesParis), ans(hermesOslo)},
		[]string{parisCall, osloCall}},
	{"thinking call after reasoning is reasoning", []frame{think("I should check.\n" + hermesParis), ans("ok")},
		[]string{"think:I should check.\n" + hermesParis, "text:ok"}},
	{"thinking call before reasoning is reasoning", []frame{think(hermesParis + " then more"), ans("ok")},
		[]string{"think:" + hermesParis + " then more", "text:ok"}},
	{"thinking text and answer call", []frame{think("Need weather. a<b"), ans("\n" + hermesParis)},
		[]string{"think:Need weather. a<b", parisCall}},
	{"invented result after a call is dropped", []frame{ans(hermesParis + "\n<tool_response>\n{\"temp\": 20}\n</tool_response>\nIt is 20.")},
		[]string{parisCall}},
	{"invented result after a thinking call is dropped", []frame{think(hermesParis), ans("<tool_response>x")},
		[]string{parisCall}},
	{"tool_response without a call is text", []frame{ans("see <tool_response>x</tool_response>")},
		[]string{"text:see <tool_response>x</tool_response>"}},
	{"tool_response in thinking is reasoning", []frame{think("a <tool_response>"), ans(hermesParis + "b")},
		[]string{"think:a <tool_response>", parisCall, "text:b"}},
	{"tag split across phases is not a tag", []frame{think("x <tool_"), ans("call>{}")},
		[]string{"think:x <tool_", "text:call>{}"}},
}

func TestParser(t *testing.T) {
	for _, tc := range parserCases {
		t.Run(tc.name, func(t *testing.T) {
			pairs := len(tc.frames) == 1 && len(tc.frames[0].text) <= 100
			for how, frames := range splits(tc.frames, pairs) {
				evs, _ := run(t, testTools, Choice{}, true, frames)
				if got := summary(evs); !slices.Equal(got, tc.want) {
					t.Fatalf("split %s:\n got %q\nwant %q", how, got, tc.want)
				}
			}
		})
	}
}

// TestParserTextByteExact: input without a valid call comes back as exactly
// the same bytes, however it is split.
func TestParserTextByteExact(t *testing.T) {
	inputs := []string{
		"a < b", "<b>x</b>", "<tool_call", "<tool_call>", "<tool_call></tool_call>", "</tool_call>",
		"<<tool_call>>", "<tool_call><tool_call>", "x<tool_call>{\"name\":\"get_weather\"", "\n\n  \n",
		"<tool_call>{\"name\":\"nope\"}</tool_call>\n\n<b>", "😀<tool_call>\xff\xfe</tool_call>",
		"<tool_response>x</tool_response><tool_resp",
	}
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			for how, frames := range splits([]frame{ans(in)}, true) {
				evs, p := run(t, testTools, Choice{}, true, frames)
				var got string
				for _, e := range evs {
					got += e.Text
				}
				if got != in || p.CallsMade() != 0 {
					t.Fatalf("split %s: got %q (%d calls), want %q", how, got, p.CallsMade(), in)
				}
			}
		})
	}
}

func TestParserChoice(t *testing.T) {
	two := []frame{ans("Sure.\n" + hermesParis + "\n" + xmlSearch)}
	searchCall := `call:search {"query":"rust lang","limit":5,"exact":true,"filters":{"lang":"en"},"tags":["a","b"]}`
	prose := []frame{ans("I would call the weather tool.")}
	cases := []struct {
		name        string
		choice      Choice
		parallel    bool
		frames      []frame
		want        []string
		dropped     int
		requiredOut bool
	}{
		{"auto parallel", Choice{Mode: Auto}, true, two, []string{"text:Sure.", parisCall, searchCall}, 0, false},
		{"auto serial keeps the first", Choice{Mode: Auto}, false, two, []string{"text:Sure.", parisCall}, 1, false},
		{"none drops calls", Choice{Mode: None}, true, two, []string{"text:Sure."}, 2, false},
		{"none keeps undeclared as text", Choice{Mode: None}, true, []frame{ans(`<tool_call>{"name":"x"}</tool_call>`)},
			[]string{`text:<tool_call>{"name":"x"}</tool_call>`}, 0, false},
		{"named keeps that function", Choice{Mode: Function, Name: "search"}, true, two, []string{"text:Sure.", searchCall}, 1, false},
		{"named not called", Choice{Mode: Function, Name: "apply_patch"}, true, two, []string{"text:Sure."}, 2, true},
		{"required met", Choice{Mode: Required}, false, two, []string{"text:Sure.", parisCall}, 1, false},
		{"required unmet", Choice{Mode: Required}, true, prose, []string{"text:I would call the weather tool."}, 0, true},
		{"auto prose", Choice{Mode: Auto}, true, prose, []string{"text:I would call the weather tool."}, 0, false},
		{"serial thinking call counts first", Choice{Mode: Auto}, false, []frame{think(hermesOslo), ans(hermesParis)},
			[]string{osloCall}, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for how, frames := range splits(tc.frames, false) {
				evs, p := run(t, testTools, tc.choice, tc.parallel, frames)
				if got := summary(evs); !slices.Equal(got, tc.want) {
					t.Fatalf("split %s:\n got %q\nwant %q", how, got, tc.want)
				}
				if p.CallsDropped() != tc.dropped || p.RequiredUnmet() != tc.requiredOut {
					t.Fatalf("split %s: dropped %d unmet %v, want %d %v", how, p.CallsDropped(), p.RequiredUnmet(), tc.dropped, tc.requiredOut)
				}
			}
		})
	}
}

// TestParserCallEvents pins the exact events of one call.
func TestParserCallEvents(t *testing.T) {
	evs, p := run(t, testTools, Choice{}, true, []frame{ans("Hi " + hermesParis)})
	want := []Event{
		{Type: Text, Text: "Hi"},
		{Type: CallStart, Call: Call{Index: 0, ID: "call_1", Name: "get_weather"}},
		{Type: CallArgs, Text: `{"city":"Paris"}`, Call: Call{Index: 0, ID: "call_1", Name: "get_weather"}},
		{Type: CallEnd, Call: Call{Index: 0, ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}},
	}
	if !slices.Equal(evs, want) || p.CallsMade() != 1 {
		t.Fatalf("got %+v (%d calls)\nwant %+v", evs, p.CallsMade(), want)
	}
	if p.Feed(Answer, "more") != nil || p.Close() != nil {
		t.Fatal("a closed parser still produced events")
	}
}

// TestParserPlainTextNotHeld: text with no possible tag start comes out in
// the same Feed call (no added latency).
func TestParserPlainTextNotHeld(t *testing.T) {
	p := NewParser(testTools, Choice{}, true, nil)
	for _, in := range []string{"Hello", ", world", " a < b", "<b>", "東京"} {
		evs := p.Feed(Answer, in)
		if len(evs) != 1 || evs[0].Text != in {
			t.Fatalf("Feed(%q) = %+v, want the text at once", in, evs)
		}
	}
}

// TestParserReasoningNotHeld: reasoning passes at once too, except leading
// whitespace (it may still turn out to surround a call standing alone).
func TestParserReasoningNotHeld(t *testing.T) {
	p := NewParser(testTools, Choice{}, true, nil)
	steps := []struct{ in, want string }{{"\n", ""}, {"Hmm", "\nHmm"}, {" <b>", " <b>"}, {"\n", "\n"}}
	for _, st := range steps {
		evs := p.Feed(Thinking, st.in)
		got := ""
		for _, e := range evs {
			if e.Type != Reasoning {
				t.Fatalf("Feed(%q): unexpected %+v", st.in, e)
			}
			got += e.Text
		}
		if got != st.want {
			t.Fatalf("Feed(%q) = %q, want %q", st.in, got, st.want)
		}
	}
}

func TestParserStopped(t *testing.T) {
	p := NewParser(testTools, Choice{}, true, nil)
	if evs := p.Feed(Answer, "<tool_response>"); len(evs) != 1 || p.Stopped() {
		t.Fatalf("without a call: %+v, stopped %v", evs, p.Stopped())
	}
	p.Feed(Answer, hermesParis)
	if evs := p.Feed(Answer, "\n<tool_resp"); len(evs) != 0 || p.Stopped() {
		t.Fatalf("partial tag: %+v, stopped %v", evs, p.Stopped())
	}
	if evs := p.Feed(Answer, "onse>"); len(evs) != 0 || !p.Stopped() {
		t.Fatalf("after a call: %+v, stopped %v", evs, p.Stopped())
	}
	if p.Feed(Answer, "more") != nil || len(p.Close()) != 0 || p.CallsMade() != 1 {
		t.Fatal("a stopped parser still produced events")
	}
}

func TestNewIDUnique(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b || len(a) != len("call_")+24 || a[:5] != "call_" {
		t.Fatalf("ids %q %q", a, b)
	}
}
