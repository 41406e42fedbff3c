package qwenfake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/qwenrelay/qwenrelay/internal/sse"
)

var fixedNow = func() time.Time { return time.Unix(1780468951, 0) }

// TestStreamExactFrames pins the byte layout of a fast answer (§3.3).
func TestStreamExactFrames(t *testing.T) {
	e := start(t, Options{Now: fixedNow})
	id := e.newChat("qwen3.7-plus")
	body := browserBody(id, "qwen3.7-plus", "hi [[qwenfake tokens=2 seed=g]]", false, "summary")
	resp := e.do(context.Background(), "POST", "/api/v2/chat/completions?chat_id="+id, body)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := readStream(strings.NewReader(string(raw)))
	rid := res.frames[0].Created.ResponseID
	got := strings.ReplaceAll(string(raw), rid, "RID")
	got = strings.ReplaceAll(got, id, "CID")
	p0, p1 := string(pieceAt(seedHash("g")^saltAnswer, 0).json), string(pieceAt(seedHash("g")^saltAnswer, 1).json)
	usage := func(n string) string {
		total := map[string]string{"1": "1009", "2": "1010"}[n]
		return `"usage": {"input_tokens": 1008, "output_tokens": ` + n + `, "characters": 0, "total_tokens": ` + total +
			`, "input_tokens_details": {"text_tokens": 1008}, "output_tokens_details": {"text_tokens": ` + n +
			`}, "prompt_tokens_details": {"cached_tokens": 0}}, "timestamp": 1780468951}`
	}
	typing := func(c, n string) string {
		return `data: {"choices": [{"delta": {"role": "assistant", "content": "` + c +
			`", "phase": "answer", "status": "typing"}}], "response_id": "RID", ` + usage(n) + "\n\n"
	}
	want := `data: {"response.created":{"chat_id": "CID", "parent_id": "fid-1", "response_id":"RID", "response_index": "0"}}` + "\n\n" +
		typing(p0, "1") + typing("", "1") + typing(p1, "2") + typing("", "2") +
		`data: {"choices": [{"delta": {"content": "", "role": "assistant", "status": "finished", "phase": "answer"}}], "response_id": "RID"}` + "\n\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
}

func TestStreamBodiesAndThinking(t *testing.T) {
	type bodyFn func(chatID, model, content string, thinking bool, format string) map[string]any
	tests := []struct {
		name     string
		body     bodyFn
		model    string
		thinking bool
		format   string
		want     string // "", "summary" or "detail"
	}{
		{"simple no thinking", simpleBody, "qwen3.7-plus", false, "", ""},
		{"browser no thinking", browserBody, "qwen3.7-plus", false, "summary", ""},
		{"simple detail", simpleBody, "qwen3.7-plus", true, "detail", "detail"},
		{"browser detail", browserBody, "qwq-32b", true, "detail", "detail"},
		{"simple summary", simpleBody, "qwen3.7-max", true, "summary", "summary"},
		{"browser summary default", browserBody, "qwen3.7-plus", true, "", "summary"},
		{"model without thinking", browserBody, "qwen3-coder-plus", true, "detail", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, Options{})
			id := e.newChat(tt.model)
			_, res := e.complete(tt.body(id, tt.model, "q [[qwenfake tokens=9 think=6 seed=x]]", tt.thinking, tt.format))
			if res.answer != AnswerText("x", 9) || !res.finished || res.done || res.bad != 0 {
				t.Fatalf("answer %q finished=%v done=%v bad=%d", res.answer, res.finished, res.done, res.bad)
			}
			think, thoughts := "", ""
			if tt.want == "detail" {
				think = ReasoningText("x", 6)
			}
			if tt.want == "summary" {
				thoughts = SummaryText("x", 6)
			}
			if res.think != think || strings.Join(res.thoughts, "\n\n") != thoughts {
				t.Fatalf("think %q thoughts %q", res.think, res.thoughts)
			}
			if tt.want == "summary" && strings.Join(res.titles, "|") != strings.Join(SummaryTitles("x", 6), "|") {
				t.Fatalf("titles %q", res.titles)
			}
			wantOut := 9
			if tt.want != "" {
				wantOut = 15
			}
			if res.lastUsage != wantOut {
				t.Fatalf("last usage output_tokens %d, want %d", res.lastUsage, wantOut)
			}
			checkOrder(t, res, tt.want)
		})
	}
}

// checkOrder checks frame order: created, reasoning, reasoning finished,
// answer, finished; cumulative usage never decreases; summary arrays grow.
func checkOrder(t *testing.T, res result, format string) {
	t.Helper()
	if res.frames[0].Created == nil || res.frames[0].Created.ResponseIndex != "0" {
		t.Fatalf("first frame is not response.created: %s", res.raw[0])
	}
	last := res.frames[len(res.frames)-1]
	if last.Usage != nil || last.Timestamp != nil || last.Choices[0].Delta.Status != "finished" {
		t.Fatalf("bad final frame %s", res.raw[len(res.raw)-1])
	}
	out, sawThinkEnd, prevThoughts := 0, false, 0
	for i, f := range res.frames[1 : len(res.frames)-1] {
		d := f.Choices[0].Delta
		if f.Usage != nil {
			if f.Usage.Output < out || f.Usage.Total != f.Usage.Input+f.Usage.Output || f.Usage.Details.Text != f.Usage.Output {
				t.Fatalf("frame %d usage %+v", i, f.Usage)
			}
			out = f.Usage.Output
			if (format != "") != (f.Usage.Details.Reasoning != nil) {
				t.Fatalf("frame %d reasoning_tokens presence: %s", i, res.raw[i+1])
			}
		}
		if d.Status == "finished" {
			if sawThinkEnd || format == "" || f.Usage != nil || f.Timestamp == nil {
				t.Fatalf("unexpected finished frame %s", res.raw[i+1])
			}
			sawThinkEnd = true
		}
		if d.Extra != nil {
			n := len(strings.Join(d.Extra.Thought.Content, ""))
			if n <= prevThoughts || sawThinkEnd {
				t.Fatalf("summary arrays not cumulative at frame %d", i)
			}
			prevThoughts = n
		}
	}
	if (format != "") != sawThinkEnd {
		t.Fatalf("thinking finished frame: saw=%v format=%q", sawThinkEnd, format)
	}
}

func TestStreamOptions(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		text  string
		check func(t *testing.T, res result)
	}{
		{"defaults", Options{}, "hello", func(t *testing.T, res result) {
			if res.answer != AnswerText("", 16) {
				t.Fatalf("answer %q", res.answer)
			}
		}},
		{"option tokens", Options{DefaultTokens: 5}, "hello", func(t *testing.T, res result) {
			if res.answer != AnswerText("", 5) {
				t.Fatalf("answer %q", res.answer)
			}
		}},
		{"send done", Options{SendDone: true}, "[[qwenfake tokens=3]]", func(t *testing.T, res result) {
			if !res.done || res.raw[len(res.raw)-1] != "[DONE]" {
				t.Fatal("no [DONE]")
			}
		}},
		{"split writes", Options{SplitWrites: 1}, "[[qwenfake tokens=40 seed=sp]]", func(t *testing.T, res result) {
			if res.answer != AnswerText("sp", 40) {
				t.Fatalf("answer %q", res.answer)
			}
		}},
		{"split directive", Options{}, "[[qwenfake tokens=40 seed=sp split=3]]", func(t *testing.T, res result) {
			if res.answer != AnswerText("sp", 40) {
				t.Fatalf("answer %q", res.answer)
			}
		}},
		{"delay", Options{FrameDelay: time.Millisecond}, "[[qwenfake tokens=3]]", func(t *testing.T, res result) {
			if res.answer != AnswerText("", 3) {
				t.Fatalf("answer %q", res.answer)
			}
		}},
		{"zero tokens", Options{}, "[[qwenfake tokens=0]]", func(t *testing.T, res result) {
			if res.answer != "" || !res.finished {
				t.Fatalf("answer %q", res.answer)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, tt.opts)
			id := e.newChat("qwen3.7-plus")
			_, res := e.complete(simpleBody(id, "qwen3.7-plus", tt.text, false, ""))
			if res.readErr != nil || res.bad != 0 {
				t.Fatalf("read error %v, %d bad frames", res.readErr, res.bad)
			}
			tt.check(t, res)
		})
	}
}

// TestSplitWritesChunks checks that every frame is written in flushed
// pieces of at most N bytes, cutting UTF-8 characters.
func TestSplitWritesChunks(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		fake := New(Options{SplitWrites: n})
		defer fake.Close()
		tok := fake.MintToken("u", time.Hour)
		id := newChatDirect(t, fake, tok)
		rec := &flushRecorder{}
		fake.ServeHTTP(rec, completionRequestFor(t, id, tok, "[[qwenfake tokens=64 seed=u]]"))
		cutRune := false
		for _, c := range rec.chunks {
			if len(c) > n || len(c) == 0 {
				t.Fatalf("split=%d: chunk of %d bytes", n, len(c))
			}
			if !utf8.Valid(c) {
				cutRune = true
			}
		}
		res := readStream(strings.NewReader(rec.body.String()))
		if res.answer != AnswerText("u", 64) || (n <= 3 && !cutRune) {
			t.Fatalf("split=%d: answer %q, cut inside a rune: %v", n, res.answer, cutRune)
		}
	}
}

func TestPhaseDropped(t *testing.T) {
	e := start(t, Options{})
	id := e.newChat("qwen3.7-plus")
	body := browserBody(id, "qwen3.7-plus", "[[qwenfake tokens=4 think=3 seed=p]]", true, "detail")
	fc := body["messages"].([]any)[0].(map[string]any)["feature_config"].(map[string]any)
	delete(fc, "output_schema")
	_, res := e.complete(body)
	for _, raw := range res.raw {
		if strings.Contains(raw, `"phase"`) {
			t.Fatalf("phase present without output_schema: %s", raw)
		}
	}
	// Without phase a client cannot split reasoning from answer.
	if res.answer != ReasoningText("p", 3)+AnswerText("p", 4) {
		t.Fatalf("answer %q", res.answer)
	}
}

func TestGzip(t *testing.T) {
	e := start(t, Options{Gzip: true, SplitWrites: 5})
	id := e.newChat("qwen3.7-plus")
	for _, ae := range []string{"gzip", "gzip, deflate, br", ""} {
		resp := e.do(context.Background(), "POST", "/api/v2/chat/completions?chat_id="+id,
			simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=20 seed=z]]", false, ""), "Accept-Encoding", ae)
		var body io.Reader = resp.Body
		if got := resp.Header.Get("Content-Encoding"); (got == "gzip") != (ae != "") {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q", ae, got)
		}
		if ae != "" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		res := readStream(body)
		resp.Body.Close()
		if res.answer != AnswerText("z", 20) || !res.finished {
			t.Fatalf("%q: answer %q", ae, res.answer)
		}
	}
	resp := e.do(context.Background(), "GET", "/api/models", nil, "Accept-Encoding", "gzip")
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("models not gzipped: %v", err)
	}
	if raw, _ := io.ReadAll(zr); !strings.Contains(string(raw), "qwen3.7-plus") {
		t.Fatalf("models body %q", raw)
	}
}

func TestMultipleMessagesEmpty(t *testing.T) {
	e := start(t, Options{})
	id := e.newChat("qwen3.7-plus")
	body := simpleBody(id, "qwen3.7-plus", "second", false, "")
	msgs := body["messages"].([]any)
	body["messages"] = append([]any{map[string]any{"role": "user", "content": "first"}}, msgs...)
	_, res := e.complete(body)
	if res.answer != "" || !res.finished || res.frames[0].Created == nil {
		t.Fatalf("want a complete empty stream, got %q", res.raw)
	}
}

func TestDoneConstantUsed(t *testing.T) {
	if string(sse.Done) != "data: [DONE]\n\n" {
		t.Fatal("sse.Done changed")
	}
}

// TestManySlowStreams runs many paced streams at once on one account.
func TestManySlowStreams(t *testing.T) {
	const n = 300
	e := start(t, Options{FrameDelay: 5 * time.Millisecond})
	e.c.Transport.(*http.Transport).MaxIdleConnsPerHost = n
	id := e.newChat("qwen3.7-plus")
	raw, _ := json.Marshal(simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=10 seed=many]]", false, ""))
	errs := make(chan error, n)
	for range n {
		go func() {
			req, _ := http.NewRequest("POST", e.ts.URL+"/api/v2/chat/completions?chat_id="+id, bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bearer "+e.token)
			resp, err := e.c.Do(req)
			if err != nil {
				errs <- err
				return
			}
			res := readStream(resp.Body)
			resp.Body.Close()
			if res.answer != AnswerText("many", 10) || !res.finished {
				err = fmt.Errorf("answer %q", res.answer)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if a := e.fake.Account(e.uid); a.Requests != n || a.InFlight != 0 || a.MaxInFlight < 2 {
		t.Fatalf("account %+v", a)
	}
}
