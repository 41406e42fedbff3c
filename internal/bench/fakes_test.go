package bench

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/sse"
)

// Tiny servers speaking just enough of each protocol to test the bench's
// clients without the real emulator or relay.

var directiveRE = regexp.MustCompile(`\[\[qwenfake tokens=(\d+) seed=(\S+) delay=(\S+)\]\]`)

// testAnswer is the test servers' answer text: pieces with multi-byte and
// JSON-escaped characters, so reassembly is really exercised.
func testAnswer(seed string, tokens int) string { return strings.Join(testPieces(seed, tokens), "") }

func testPieces(seed string, tokens int) []string {
	out := make([]string, tokens)
	for i := range out {
		out[i] = fmt.Sprintf(" t%d-%s é\"\n", i, seed)
	}
	return out
}

// behaviour makes a test server misbehave for chosen seeds.
type behaviour struct {
	corruptSuffix string // seeds ending with it get one wrong byte
	cutSuffix     string // seeds ending with it are cut before their end
	requests      atomic.Int64
}

func (b *behaviour) parse(text string) (seed string, pieces []string, delay time.Duration) {
	m := directiveRE.FindStringSubmatch(text)
	if m == nil {
		return "", nil, 0
	}
	n, _ := strconv.Atoi(m[1])
	delay, _ = time.ParseDuration(m[3])
	pieces = testPieces(m[2], n)
	if b.corruptSuffix != "" && strings.HasSuffix(m[2], b.corruptSuffix) && n > 0 {
		pieces[n/2] = strings.Replace(pieces[n/2], "é", "e", 1)
	}
	return m[2], pieces, delay
}

func (b *behaviour) cut(seed string) bool {
	return b.cutSuffix != "" && strings.HasSuffix(seed, b.cutSuffix)
}

// pause waits d or until the client leaves; it reports false if it left.
func pause(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

func writeEvent(w http.ResponseWriter, data string) {
	_, _ = w.Write(sse.AppendData(nil, []byte(data)))
	_ = http.NewResponseController(w).Flush()
}

// jsonString encodes the test pieces (printable text, quotes, newlines) as JSON.
func jsonString(s string) string { return strconv.Quote(s) }

// qwenHandler speaks the Qwen v2 web protocol.
func qwenHandler(b *behaviour) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/chats/new", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, `{"detail":"no token"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"success":true,"request_id":"r","data":{"id":"chat-1"}}`))
	})
	mux.HandleFunc("POST /api/v2/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		if r.URL.Query().Get("chat_id") != "chat-1" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"success":false,"data":{"code":"Bad_Request","details":"unknown chat"}}`))
			return
		}
		seed, pieces, delay := b.parse(readAll(r))
		w.Header().Set("Content-Type", "text/event-stream")
		writeEvent(w, `{"response.created":{"chat_id": "chat-1", "response_id":"x"}}`)
		writeEvent(w, `{"choices":[{"delta":{"role":"assistant","content":"hmm","phase":"think","status":"typing"}}]}`)
		for i, p := range pieces {
			if !pause(r, delay) {
				return
			}
			if b.cut(seed) && i == len(pieces)/2 {
				return
			}
			writeEvent(w, `{"choices": [{"delta": {"role": "assistant", "content": `+jsonString(p)+
				`, "phase": "answer", "status": "typing"}}], "usage": {"output_tokens": `+strconv.Itoa(i+1)+`}}`)
		}
		writeEvent(w, `{"choices":[{"delta":{"role":"assistant","content":"","phase":"answer","status":"typing"}}]}`)
		writeEvent(w, `{"choices":[{"delta":{"content":"","role":"assistant","status":"finished","phase":"answer"}}]}`)
	})
	return mux
}

// openAIHandler speaks the OpenAI streaming chat completions protocol.
func openAIHandler(b *behaviour, key string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"bad key","type":"invalid_request_error"}}`))
			return
		}
		seed, pieces, delay := b.parse(readAll(r))
		w.Header().Set("Content-Type", "text/event-stream")
		const head = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"qwen3.7-plus","choices":[{"index":0,"delta":{`
		writeEvent(w, head+`"role":"assistant","content":""},"finish_reason":null}]}`)
		for i, p := range pieces {
			if !pause(r, delay) {
				return
			}
			if b.cut(seed) && i == len(pieces)/2 {
				return
			}
			writeEvent(w, head+`"content":`+jsonString(p)+`},"finish_reason":null}]}`)
		}
		writeEvent(w, head+`},"finish_reason":"stop"}]}`)
		writeEvent(w, "[DONE]")
	})
	return mux
}

func readAll(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}
