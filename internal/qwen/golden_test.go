package qwen

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

var update = flag.Bool("update", false, "rewrite the .golden files in testdata")

// render prints an outcome in a stable, reviewable form.
func render(o outcome) string {
	var b strings.Builder
	for _, e := range o.events {
		if e.Type == upstream.EventCitation {
			fmt.Fprintf(&b, "citation %q %q\n", e.Citation.URL, e.Citation.Title)
			continue
		}
		name := "content"
		if e.Type == upstream.EventReasoning {
			name = "reasoning"
		}
		fmt.Fprintf(&b, "%s %q\n", name, e.Text)
	}
	if o.err != nil {
		ue, _ := upstream.AsError(o.err)
		if ue != nil {
			fmt.Fprintf(&b, "error kind=%s code=%q\n", ue.Kind, ue.Code)
		} else {
			fmt.Fprintf(&b, "error %v\n", o.err)
		}
		return b.String()
	}
	u := o.res.Usage
	fmt.Fprintf(&b, "finish %q\nusage prompt=%d completion=%d total=%d reasoning=%d cached=%d\n",
		o.res.FinishReason, u.PromptTokens, u.CompletionTokens, u.TotalTokens, u.ReasoningTokens, u.CachedTokens)
	return b.String()
}

// TestGolden replays each testdata/*.sse transcript (frames reconstructed
// from docs/qwen-protocol.md §2.3, §3.3, §3.4 with the captures' spacing) through a real HTTP
// exchange, once whole and once written a byte at a time, and compares the
// events with the .golden file. Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.sse")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sse")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			proto := ProtocolV2
			if strings.HasPrefix(name, "legacy") {
				proto = ProtocolLegacy
			}
			whole := replay(t, proto, []string{string(raw)})
			got := render(whole)
			golden := strings.TrimSuffix(file, ".sse") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("events differ from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			// Byte-at-a-time writes split frames and UTF-8 characters.
			split := replay(t, proto, splitBytes(string(raw), 1))
			if a, b := joined(whole), joined(split); a != b || kindOf(whole.err) != kindOf(split.err) {
				t.Errorf("split writes changed the result:\n%s\nvs\n%s", render(split), got)
			}
		})
	}
}

func replay(t *testing.T, proto string, chunks []string) outcome {
	t.Helper()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeSSE(w, chunks...) })
	c := f.client(t, func(o *Options) { o.Protocol = proto })
	o, err := run(context.Background(), c, userReq("hi"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	checkNoToken(t, o.err)
	return o
}

// joined is the text per type, independent of how it was chunked.
func joined(o outcome) string {
	var cites strings.Builder
	for _, e := range o.events {
		if e.Type == upstream.EventCitation {
			cites.WriteString(e.Citation.URL + " " + e.Citation.Title + "\n")
		}
	}
	return "R:" + o.text(upstream.EventReasoning) + "\nC:" + o.text(upstream.EventContent) + "\nS:" + cites.String()
}

func splitBytes(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}
