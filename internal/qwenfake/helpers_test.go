package qwenfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/sse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is one emulator behind an httptest server, with a client and a token.
type env struct {
	t     *testing.T
	fake  *Server
	ts    *httptest.Server
	c     *http.Client
	uid   string
	token string
}

func start(t *testing.T, opts Options) *env {
	t.Helper()
	fake := New(opts)
	ts := httptest.NewServer(fake)
	tr := &http.Transport{DisableCompression: true}
	e := &env{t: t, fake: fake, ts: ts, c: &http.Client{Transport: tr}, uid: "user-1"}
	e.token = fake.MintToken(e.uid, time.Hour)
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		fake.Close()
		ts.Close()
		tr.CloseIdleConnections()
	})
	return e
}

// do sends a request; body may be nil, a string or a value to encode.
func (e *env) do(ctx context.Context, method, path string, body any, hdr ...string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := e.c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// jsonCall sends a request and decodes a JSON reply, checking the status.
func (e *env) jsonCall(method, path string, body any, wantStatus int, hdr ...string) map[string]any {
	e.t.Helper()
	resp := e.do(context.Background(), method, path, body, hdr...)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, raw)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		e.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
	return v
}

func (e *env) newChat(model string) string {
	e.t.Helper()
	v := e.jsonCall("POST", "/api/v2/chats/new", map[string]any{
		"title": "New Chat", "models": []string{model}, "chat_mode": "normal", "chat_type": "t2t",
		"timestamp": 1780468950123, "project_id": "",
	}, 200)
	return v["data"].(map[string]any)["id"].(string)
}

// simpleBody is the §3.2(a) body style.
func simpleBody(chatID, model, content string, thinking bool, format string) map[string]any {
	return map[string]any{
		"stream": true, "incremental_output": true, "chat_type": "t2t", "model": model,
		"session_id": "s", "id": "i", "sub_chat_type": "t2t", "chat_mode": "normal", "chat_id": chatID,
		"messages": []any{map[string]any{"role": "user", "content": content, "chat_type": "t2t", "extra": map[string]any{},
			"feature_config": map[string]any{"output_schema": "phase", "thinking_enabled": thinking,
				"thinking_budget": 81920, "thinking_format": format}}},
	}
}

// browserBody is the §3.2(b) envelope.
func browserBody(chatID, model, content string, thinking bool, format string) map[string]any {
	return map[string]any{
		"stream": true, "version": "2.1", "incremental_output": true, "chat_id": chatID, "chat_mode": "normal",
		"model": model, "parent_id": nil, "timestamp": 1780468950,
		"messages": []any{map[string]any{"fid": "fid-1", "parentId": nil, "childrenIds": []string{"c"}, "role": "user",
			"content": content, "user_action": "chat", "files": []any{}, "timestamp": 1780468950,
			"models": []string{model}, "chat_type": "t2t", "sub_chat_type": "t2t", "parent_id": nil,
			"feature_config": map[string]any{"thinking_enabled": thinking, "output_schema": "phase",
				"research_mode": "normal", "auto_thinking": true, "thinking_mode": "Auto",
				"thinking_format": format, "auto_search": false},
			"extra": map[string]any{"meta": map[string]any{"subChatType": "t2t"}}}},
	}
}

// frame is a decoded v2 (or era-1) frame.
type frame struct {
	Created *struct {
		ChatID        string `json:"chat_id"`
		ParentID      string `json:"parent_id"`
		ResponseID    string `json:"response_id"`
		ResponseIndex string `json:"response_index"`
	} `json:"response.created"`
	Choices []struct {
		Delta struct {
			Role    string  `json:"role"`
			Content string  `json:"content"`
			Phase   *string `json:"phase"`
			Status  string  `json:"status"`
			Extra   *struct {
				Title   struct{ Content []string } `json:"summary_title"`
				Thought struct{ Content []string } `json:"summary_thought"`
			} `json:"extra"`
		} `json:"delta"`
	} `json:"choices"`
	ResponseID string `json:"response_id"`
	Usage      *struct {
		Input   int `json:"input_tokens"`
		Output  int `json:"output_tokens"`
		Total   int `json:"total_tokens"`
		Details struct {
			Reasoning *int `json:"reasoning_tokens"`
			Text      int  `json:"text_tokens"`
		} `json:"output_tokens_details"`
	} `json:"usage"`
	Timestamp *int64 `json:"timestamp"`
	Error     *struct {
		Code    string `json:"code"`
		Details string `json:"details"`
	} `json:"error"`
}

// result is what a client reassembles from a stream.
type result struct {
	raw       []string // data payloads
	frames    []frame
	bad       int // frames that were not valid JSON
	answer    string
	think     string // phase "think" text
	titles    []string
	thoughts  []string
	done      bool // [DONE] seen
	finished  bool // final answer finished frame seen
	errFrame  *frame
	readErr   error
	lastUsage int
}

// readStream decodes an SSE body.
func readStream(body io.Reader) result {
	var res result
	dec := sse.NewDecoder(body, 0)
	for {
		ev, err := dec.Next()
		if err != nil {
			if err != io.EOF {
				res.readErr = err
			}
			return res
		}
		data := string(ev.Data)
		res.raw = append(res.raw, data)
		if data == "[DONE]" {
			res.done = true
			continue
		}
		var f frame
		if json.Unmarshal(ev.Data, &f) != nil {
			res.bad++
			continue
		}
		res.frames = append(res.frames, f)
		res.add(&f)
	}
}

func (res *result) add(f *frame) {
	if f.Error != nil {
		res.errFrame = f
	}
	if f.Usage != nil {
		res.lastUsage = f.Usage.Output
	}
	if len(f.Choices) == 0 {
		return
	}
	d := f.Choices[0].Delta
	phase := "answer"
	if d.Phase != nil {
		phase = *d.Phase
	}
	switch {
	case d.Extra != nil:
		res.titles, res.thoughts = d.Extra.Title.Content, d.Extra.Thought.Content
	case phase == "think":
		res.think += d.Content
	default:
		res.answer += d.Content
	}
	if d.Status == "finished" && phase == "answer" {
		res.finished = true
	}
}

// complete creates a chat and streams one completion.
func (e *env) complete(body map[string]any, hdr ...string) (*http.Response, result) {
	e.t.Helper()
	resp := e.do(context.Background(), "POST", fmt.Sprintf("/api/v2/chat/completions?chat_id=%v", body["chat_id"]), body, hdr...)
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		raw, _ := io.ReadAll(resp.Body)
		return resp, result{raw: []string{string(raw)}}
	}
	return resp, readStream(resp.Body)
}

// flushRecorder is an http.ResponseWriter that records what was written
// between flushes.
type flushRecorder struct {
	hdr     http.Header
	status  int
	body    bytes.Buffer
	pending []byte
	chunks  [][]byte
}

func (f *flushRecorder) Header() http.Header {
	if f.hdr == nil {
		f.hdr = http.Header{}
	}
	return f.hdr
}
func (f *flushRecorder) WriteHeader(code int) { f.status = code }
func (f *flushRecorder) Write(b []byte) (int, error) {
	f.body.Write(b)
	f.pending = append(f.pending, b...)
	return len(b), nil
}
func (f *flushRecorder) Flush() {
	if len(f.pending) > 0 {
		f.chunks = append(f.chunks, f.pending)
		f.pending = nil
	}
}

// newChatDirect creates a chat through ServeHTTP without a network.
func newChatDirect(t testing.TB, s *Server, tok string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/api/v2/chats/new", strings.NewReader(`{"title":"t","models":["qwen3.7-plus"],"chat_mode":"normal","chat_type":"t2t"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	s.ServeHTTP(rec, req)
	var v struct{ Data struct{ ID string } }
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.Data.ID == "" {
		t.Fatalf("chats/new: %v %s", err, rec.Body)
	}
	return v.Data.ID
}

func completionRequestFor(t testing.TB, chatID, tok, content string) *http.Request {
	t.Helper()
	raw, err := json.Marshal(simpleBody(chatID, "qwen3.7-plus", content, false, ""))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/api/v2/chat/completions?chat_id="+chatID, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+tok)
	return req
}
