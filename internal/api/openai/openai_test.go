package openai

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "nl\n cr\r tab\t", "\x00\x1f", "你好🙂é", "\u2028\u2029", "<html>&"} {
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil || back != s {
			t.Fatalf("%q: %v -> %q", s, err, back)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("hello\n\"x\"")
	f.Add("\xff\xfe invalid")
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip %q -> %q", s, back)
		}
		if strings.ContainsAny(string(b), "\n\r") {
			t.Fatal("raw newline in JSON string breaks SSE framing")
		}
	})
}

func TestChunkIsValidJSON(t *testing.T) {
	h := &ChunkHeader{ID: "chatcmpl-1", Created: 5, Model: "m\"x"}
	u := &Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3, PromptTokensDetails: &PromptTokensDetails{}, CompletionTokensDetails: &CompletionTokensDetails{ReasoningTokens: 1}}
	for _, b := range [][]byte{
		AppendChunk(nil, h, "assistant", DeltaContent, "hi"),
		AppendChunk(nil, h, "", DeltaReasoning, "r"),
		AppendFinishChunk(nil, h, "", "stop"),
		AppendFinishChunk(nil, h, "assistant", "stop"),
		AppendUsageChunk(nil, h, u),
	} {
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
}

// FuzzDecodeChatRequest: any body gives a request or a RequestError, never a
// panic.
func FuzzDecodeChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"n":2}`))
	f.Add([]byte(`{"model":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeChatRequest(body)
		if err != nil {
			if _, ok := err.(*RequestError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if strings.Contains(err.Error(), "openai.") || strings.Contains(err.Error(), "Go ") {
				t.Fatalf("error names a Go type: %v", err)
			}
			return
		}
		if req.Model == "" || len(req.Messages) == 0 {
			t.Fatal("invalid request accepted")
		}
		for _, m := range req.Messages {
			_ = m.Content.String()
		}
	})
}

func BenchmarkAppendChunk(b *testing.B) {
	h := &ChunkHeader{ID: "chatcmpl-abcdefghijklmnopqrstuvwx", Created: 1780468950, Model: "qwen3.7-plus"}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendChunk(buf[:0], h, "", DeltaContent, " hello 你好")
	}
}
