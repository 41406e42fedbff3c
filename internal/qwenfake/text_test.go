package qwenfake

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestVocabulary(t *testing.T) {
	all := strings.Join(vocabText[:], "")
	for _, want := range []string{"你好", "é", "🙂", "\n", `"`, `\`, " the"} {
		if !strings.Contains(all, want) {
			t.Errorf("vocabulary lacks %q", want)
		}
	}
	for _, p := range vocab {
		var got string
		if err := json.Unmarshal([]byte(`"`+string(p.json)+`"`), &got); err != nil || got != p.text {
			t.Errorf("piece %q encodes as %s (%v)", p.text, p.json, err)
		}
		if !utf8.ValidString(p.text) {
			t.Errorf("piece %q is not UTF-8", p.text)
		}
	}
	if string(vocab[24].json) != ` \u00fcber` || string(vocab[25].json) != ` \ud83d\ude00` {
		t.Errorf("escaped pieces: %s %s", vocab[24].json, vocab[25].json)
	}
}

func TestTexts(t *testing.T) {
	if AnswerText("a", 64) != AnswerText("a", 64) || AnswerText("a", 64) == AnswerText("b", 64) {
		t.Fatal("answer text is not a function of the seed")
	}
	if !strings.HasPrefix(AnswerText("a", 64), AnswerText("a", 10)) {
		t.Fatal("answer of fewer tokens is not a prefix")
	}
	if AnswerText("a", 0) != "" || ReasoningText("a", 8) == AnswerText("a", 8) {
		t.Fatal("reasoning and answer must differ")
	}
	th := SummaryThoughts("s", 10)
	if len(th) != 3 || len(SummaryTitles("s", 10)) != 3 {
		t.Fatalf("thoughts %q titles %q", th, SummaryTitles("s", 10))
	}
	if strings.Join(th, "") != ReasoningText("s", 10) || SummaryText("s", 10) != strings.Join(th, "\n\n") {
		t.Fatal("summary thoughts do not partition the reasoning text")
	}
	if LegacyText("s", 2, 3) != "<think>\n"+ReasoningText("s", 2)+"\n</think>\n\n"+AnswerText("s", 3) ||
		LegacyText("s", 0, 3) != AnswerText("s", 3) {
		t.Fatal("legacy text")
	}
	// Over many seeds every kind of character shows up in answers.
	var b strings.Builder
	for i := range 50 {
		b.WriteString(AnswerText(string(rune('a'+i)), 16))
	}
	for _, want := range []string{"你好", "🙂", "\n", `"`, `\`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("answers never contain %q", want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\t\r\n", "<>&", "日本🙂", "\u2028"} {
		for _, ascii := range []bool{false, true} {
			enc := appendJSONString(nil, s, ascii)
			var got string
			if err := json.Unmarshal([]byte(`"`+string(enc)+`"`), &got); err != nil || got != s {
				t.Errorf("%q ascii=%v: %s -> %q (%v)", s, ascii, enc, got, err)
			}
		}
	}
}

func TestParseDirective(t *testing.T) {
	tests := []struct {
		name string
		text string
		ok   bool
		want Directive
	}{
		{"none", "hello", false, Directive{Tokens: -1, Think: -1, Delay: -1, Split: -1}},
		{"unterminated", "[[qwenfake tokens=3", false, Directive{Tokens: -1, Think: -1, Delay: -1, Split: -1}},
		{"other tag", "[[qwenfakeX tokens=3]]", false, Directive{Tokens: -1, Think: -1, Delay: -1, Split: -1}},
		{"empty", "hi [[qwenfake]]", true, Directive{Tokens: -1, Think: -1, Delay: -1, Split: -1}},
		{"all", "x [[qwenfake tokens=5 think=2 seed=abc delay=10ms split=3 fail=cut times=2 id=k after=4]] y", true,
			Directive{Tokens: 5, Think: 2, Seed: "abc", Delay: 10e6, Split: 3, Fail: "cut", Times: 2, ID: "k", After: 4}},
		{"zero delay", "[[qwenfake delay=0s tokens=0]]", true, Directive{Tokens: 0, Think: -1, Delay: 0, Split: -1}},
		{"last wins", "user: [[qwenfake tokens=1]]\n\nuser: [[qwenfake tokens=2]]", true,
			Directive{Tokens: 2, Think: -1, Delay: -1, Split: -1}},
		{"invalid kept out", "[[qwenfake tokens=-1 fail=nope bogus delay=x color=red think=7]]", true,
			Directive{Tokens: -1, Think: 7, Delay: -1, Split: -1,
				Invalid: []string{"tokens=-1", "fail=nope", "bogus", "delay=x", "color=red"}}},
		{"newlines", "[[qwenfake\ntokens=9\n]]", true, Directive{Tokens: 9, Think: -1, Delay: -1, Split: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseDirective(tt.text)
			if ok != tt.ok || !equalDirective(got, tt.want) {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func equalDirective(a, b Directive) bool {
	return a.Tokens == b.Tokens && a.Think == b.Think && a.Seed == b.Seed && a.Delay == b.Delay &&
		a.Split == b.Split && a.Fail == b.Fail && a.Times == b.Times && a.ID == b.ID && a.After == b.After &&
		strings.Join(a.Invalid, " ") == strings.Join(b.Invalid, " ")
}
