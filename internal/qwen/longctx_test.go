package qwen

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// clineHistory is a Cline-like conversation: a system prompt of sysBytes,
// then pairs of tool calls and tool results of resultBytes each, each
// turn marked, and a last user turn.
func clineHistory(sysBytes, pairs, resultBytes int, last string) []upstream.Message {
	msgs := []upstream.Message{{Role: "system", Content: "SYSTEM-START " + strings.Repeat("You are Cline. ", sysBytes/15)}}
	for i := range pairs {
		msgs = append(msgs,
			upstream.Message{Role: "assistant", Content: fmt.Sprintf("<read_file><path>src/file%03d.go</path></read_file> call-%03d", i, i)},
			upstream.Message{Role: "user", Content: fmt.Sprintf("[read_file result-%03d]\n", i) + strings.Repeat("func x() { return } ", resultBytes/20)})
	}
	return append(msgs, upstream.Message{Role: "user", Content: last})
}

func longReq(msgs []upstream.Message) *upstream.ChatRequest {
	return &upstream.ChatRequest{Model: "qwen3.7-plus", Messages: msgs}
}

// covered fails unless every message's text appears in doc or inline.
func covered(t *testing.T, msgs []upstream.Message, doc, inline string) {
	t.Helper()
	for i, m := range msgs {
		if !strings.Contains(doc, m.Content) && !strings.Contains(inline, m.Content) {
			t.Fatalf("message %d (%s, %d bytes) is neither attached nor inline", i, m.Role, len(m.Content))
		}
	}
}

func TestFitContext(t *testing.T) {
	const wall = DefaultMaxBodyBytes
	latest := "Now fix the failing test."
	for _, tc := range []struct {
		name     string
		strategy string
		wall     int
		msgs     []upstream.Message
		tooLarge string // a KindTooLarge error whose message holds this
		attached bool   // a history document goes with the request
		check    func(t *testing.T, msgs []upstream.Message, content, doc string)
	}{
		{name: "fits inline", msgs: clineHistory(20000, 10, 5000, latest),
			check: func(t *testing.T, msgs []upstream.Message, content, _ string) {
				if content != flatten(msgs) {
					t.Error("a history that fits was changed")
				}
			}},
		{name: "under 50 KB never moved", wall: 30000, msgs: clineHistory(10000, 6, 5000, latest), tooLarge: "30000"},
		{name: "300 KB attached", msgs: clineHistory(30000, 50, 5400, latest), attached: true,
			check: func(t *testing.T, msgs []upstream.Message, content, doc string) {
				covered(t, msgs, doc, content)
				if !strings.HasPrefix(content, HistoryPointer) || !strings.HasSuffix(content, latest) {
					t.Errorf("inline part: %.120q … %q", content, content[max(0, len(content)-60):])
				}
				if !strings.HasPrefix(doc, "system: SYSTEM-START") || strings.Contains(content, "SYSTEM-START") {
					t.Error("the system prompt is not (only) in the document")
				}
				// The latest ~50 KB stay inline, no more.
				if n := len(content); n > ContextKeepInline+len(HistoryPointer)+2 || n < ContextKeepInline/2 {
					t.Errorf("inline part is %d bytes", n)
				}
				if !strings.Contains(content, "result-049") || strings.Contains(content, "result-040") {
					t.Error("inline part is not the latest turns")
				}
			}},
		{name: "big latest turn: everything older moves", msgs: clineHistory(30000, 20, 5000, strings.Repeat("L", 100000)), attached: true,
			check: func(t *testing.T, msgs []upstream.Message, content, doc string) {
				covered(t, msgs, doc, content)
				if content != HistoryPointer+"\n\n"+msgs[len(msgs)-1].Content {
					t.Errorf("inline part holds more than the latest turn: %d bytes", len(content))
				}
			}},
		{name: "latest turn inside the margin still goes", msgs: clineHistory(30000, 20, 5000, strings.Repeat("M", wall-ContextMargin)), attached: true},
		{name: "latest turn alone over the wall", msgs: clineHistory(30000, 20, 5000, strings.Repeat("x", wall+1)), tooLarge: "latest message alone"},
		{name: "refuse", strategy: ContextRefuse, msgs: clineHistory(30000, 50, 5400, latest), tooLarge: "must be shortened"},
		{name: "truncate keeps system and latest", strategy: ContextTruncate, msgs: clineHistory(30000, 50, 5400, latest),
			check: func(t *testing.T, msgs []upstream.Message, content, _ string) {
				if !strings.HasPrefix(content, "system: SYSTEM-START") || !strings.HasSuffix(content, "user: "+latest) {
					t.Errorf("truncated text: %.60q … %q", content, content[max(0, len(content)-40):])
				}
				if strings.Contains(content, "result-000") || !strings.Contains(content, "result-049") {
					t.Error("not the oldest turns dropped")
				}
				if len(content) < wall-2*5500-2000 {
					t.Errorf("dropped more than needed: %d bytes left", len(content))
				}
			}},
		{name: "truncate: system and latest too big", strategy: ContextTruncate,
			msgs: clineHistory(80000, 10, 5000, strings.Repeat("y", 60000)), tooLarge: "system prompt and the latest message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, "http://127.0.0.1:1", func(o *Options) {
				o.ContextStrategy, o.MaxBodyBytes = tc.strategy, tc.wall
			})
			req := longReq(tc.msgs)
			content, files, err := c.fitContext(req)
			if tc.tooLarge != "" {
				ue, ok := upstream.AsError(err)
				if !ok || ue.Kind != upstream.KindTooLarge || !strings.Contains(ue.Message, tc.tooLarge) {
					t.Fatalf("err = %v, want too_large naming %q", err, tc.tooLarge)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (len(files) == 1) != tc.attached {
				t.Fatalf("%d files, attached = %v", len(files), tc.attached)
			}
			doc := ""
			if tc.attached {
				f := files[0]
				if f.Name != HistoryFileName || f.ContentType != "text/plain" || f.Kind != upstream.FileDocument {
					t.Fatalf("history file %+v", f)
				}
				doc = string(f.Data)
			}
			n, err := c.bodyLen(req, content, files)
			limit := c.opts.MaxBodyBytes
			if tc.attached && len(tc.msgs[len(tc.msgs)-1].Content) < 60000 {
				limit -= ContextMargin // the margin is kept unless the latest turn eats it
			}
			if err != nil || n > limit {
				t.Fatalf("body is %d bytes (limit %d): %v", n, limit, err)
			}
			if tc.check != nil {
				tc.check(t, tc.msgs, content, doc)
			}
		})
	}
}

func TestContextStrategyValidated(t *testing.T) {
	_, err := New(Options{BaseURL: "http://127.0.0.1:1", HTTPClient: newTestClient(t, "http://127.0.0.1:1", nil).opts.HTTPClient,
		ContextStrategy: "summarize"})
	if err == nil || !strings.Contains(err.Error(), "ContextStrategy") {
		t.Fatalf("err = %v", err)
	}
}

// TestAttachedHistoryReachesModel runs attach against the emulator: the
// history is uploaded for the answering account and parsed, the model
// (echo=doc) sees every turn, and the body stays under the wall.
func TestAttachedHistoryReachesModel(t *testing.T) {
	fake, client, cred := emulator(t, qwenfake.Options{})
	c := client(func(o *Options) { o.Upload.ParsePollInterval = time.Millisecond })
	msgs := clineHistory(30000, 50, 5400, "continue [[qwenfake echo=doc chunk=65536]]")
	o := runCred(t, c, cred, longReq(msgs))
	if o.err != nil {
		t.Fatal(o.err)
	}
	seen := o.text(upstream.EventContent)
	doc, inline, ok := strings.Cut(seen, "[message]\n")
	if !ok || !strings.HasPrefix(doc, "[file "+HistoryFileName+"]\n") {
		t.Fatalf("echo: %.200q", seen)
	}
	covered(t, msgs, doc, inline)
	if n := fake.Stats().MaxCompletionBody; n == 0 || n > DefaultMaxBodyBytes-ContextMargin {
		t.Fatalf("largest completion body %d bytes", n)
	}

	// An upload failure is a classified error, never a silent truncation.
	fake.SetUploadFailure(qwenfake.UploadPutFail)
	defer fake.SetUploadFailure(qwenfake.UploadOK)
	before := fake.Stats().Completions
	o = runCred(t, c, cred, longReq(msgs))
	if _, ok := upstream.AsError(o.err); !ok || fake.Stats().Completions != before {
		t.Fatalf("upload failure: err %v, %d completions sent", o.err, fake.Stats().Completions-before)
	}
}

// BenchmarkFitContextAttach measures planning the split of a 300 KB
// history (no upload): the cost attach adds before the first byte is sent.
func BenchmarkFitContextAttach(b *testing.B) {
	c, err := New(Options{BaseURL: "http://127.0.0.1:1", HTTPClient: &http.Client{}})
	if err != nil {
		b.Fatal(err)
	}
	req := longReq(clineHistory(30000, 50, 5400, "Now fix the failing test."))
	b.ReportAllocs()
	for b.Loop() {
		if _, files, err := c.fitContext(req); err != nil || len(files) != 1 {
			b.Fatal(err)
		}
	}
}
