package server

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/metrics"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeProvider answers from a function; models are fixed.
type fakeProvider struct {
	open       func(ctx context.Context, cred upstream.Credential, req *upstream.ChatRequest) (upstream.Stream, error)
	modelCalls atomic.Int64
	modelsErr  atomic.Value // error
	lastReq    atomic.Pointer[upstream.ChatRequest]
}

func (f *fakeProvider) OpenChat(ctx context.Context, cred upstream.Credential, req *upstream.ChatRequest) (upstream.Stream, error) {
	f.lastReq.Store(req)
	return f.open(ctx, cred, req)
}

func (f *fakeProvider) ListModels(context.Context, upstream.Credential) ([]upstream.Model, error) {
	f.modelCalls.Add(1)
	if err, _ := f.modelsErr.Load().(error); err != nil {
		return nil, err
	}
	return []upstream.Model{
		{ID: "qwen3.7-plus", Name: "Qwen3.7-Plus", Thinking: true, Created: 1},
		{ID: "qwen3-coder-plus", Name: "Qwen3-Coder", Created: 2},
	}, nil
}

// chanStream yields events sent on ch until it is closed, honouring ctx.
type chanStream struct {
	ctx context.Context
	ch  chan upstream.Event
	res upstream.Result
}

func (c *chanStream) Next() (upstream.Event, error) {
	select {
	case <-c.ctx.Done():
		return upstream.Event{}, c.ctx.Err()
	case ev, ok := <-c.ch:
		if !ok {
			return upstream.Event{}, io.EOF
		}
		return ev, nil
	}
}
func (c *chanStream) Result() upstream.Result { return c.res }
func (c *chanStream) Close() error            { return nil }

func answer(events ...upstream.Event) func(context.Context, upstream.Credential, *upstream.ChatRequest) (upstream.Stream, error) {
	return func(context.Context, upstream.Credential, *upstream.ChatRequest) (upstream.Stream, error) {
		return &upstream.SliceStream{Events: events, Res: upstream.Result{Usage: upstream.Usage{PromptTokens: 10, CompletionTokens: 3, TotalTokens: 13, ReasoningTokens: 1}}}, nil
	}
}

type testServer struct {
	*httptest.Server
	prov *fakeProvider
	srv  *Server
}

func newTestServer(t *testing.T, opts Options, prov *fakeProvider) *testServer {
	t.Helper()
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = 100
	}
	if opts.MaxRequestBytes == 0 {
		opts.MaxRequestBytes = 1 << 20
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = time.Hour
	}
	// A bounded budget: a Retry-After longer than it ends the retries at once.
	rl := relay.New(prov, relay.Options{Attempts: 2, Backoff: time.Millisecond, Budget: time.Second}, nil, nil)
	var picker relay.Picker
	if !opts.Passthrough {
		picker = relay.SinglePicker{Cred: upstream.Credential{ID: "token-1", Token: "tok-a"}}
	}
	s := New(opts, rl, picker, metrics.New(), nil)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return &testServer{Server: ts, prov: prov, srv: s}
}

func (ts *testServer) post(t *testing.T, path, body string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// sseData returns the data payloads of an SSE body, and its comments.
func sseData(t *testing.T, r io.Reader) (data []string, comments int) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		case strings.HasPrefix(line, ":"):
			comments++
		}
	}
	return data, comments
}

type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Role             *string `json:"role"`
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
	} `json:"error"`
}

func decodeChunks(t *testing.T, data []string) []chunk {
	t.Helper()
	if len(data) == 0 || data[len(data)-1] != "[DONE]" {
		t.Fatalf("stream must end with [DONE]: %q", data)
	}
	out := make([]chunk, 0, len(data)-1)
	for _, d := range data[:len(data)-1] {
		var c chunk
		if err := json.Unmarshal([]byte(d), &c); err != nil {
			t.Fatalf("bad chunk %q: %v", d, err)
		}
		out = append(out, c)
	}
	return out
}

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeError(t *testing.T, resp *http.Response, wantStatus int) errorBody {
	t.Helper()
	if resp.StatusCode != wantStatus {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, wantStatus, b)
	}
	var eb errorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
		t.Fatalf("error body is not OpenAI-shaped JSON: %v", err)
	}
	if eb.Error.Message == "" || eb.Error.Type == "" {
		t.Fatalf("error body lacks message/type: %+v", eb)
	}
	return eb
}

func TestStreamShape(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		ts := newTestServer(t, Options{}, &fakeProvider{open: answer(
			upstream.Event{Type: upstream.EventReasoning, Text: "hmm"},
			upstream.Event{Type: upstream.EventContent, Text: "Hel"},
			upstream.Event{Type: upstream.EventContent, Text: "lo 你好"},
		)})
		body := `{"model":"qwen3.7-plus-thinking","stream":true,"messages":[{"role":"user","content":"hi"}]`
		if includeUsage {
			body += `,"stream_options":{"include_usage":true}`
		}
		resp := ts.post(t, "/v1/chat/completions", body+"}")
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Fatalf("content-type %q", ct)
		}
		if resp.Header.Get("Content-Encoding") != "" {
			t.Fatal("SSE must not be compressed")
		}
		data, _ := sseData(t, resp.Body)
		chunks := decodeChunks(t, data)
		var content, reasoning string
		roles := 0
		for i, c := range chunks {
			if c.ID != chunks[0].ID || c.Created != chunks[0].Created || c.Object != "chat.completion.chunk" || c.Model != "qwen3.7-plus-thinking" {
				t.Fatalf("chunk %d header differs: %+v", i, c)
			}
			for _, ch := range c.Choices {
				if ch.Delta.Role != nil {
					roles++
					if i != 0 {
						t.Fatalf("role in chunk %d", i)
					}
				}
				if ch.Delta.Content != nil {
					content += *ch.Delta.Content
				}
				if ch.Delta.ReasoningContent != nil {
					reasoning += *ch.Delta.ReasoningContent
				}
			}
		}
		if roles != 1 || content != "Hello 你好" || reasoning != "hmm" {
			t.Fatalf("roles=%d content=%q reasoning=%q", roles, content, reasoning)
		}
		last := chunks[len(chunks)-1]
		finish := last
		if includeUsage {
			if last.Usage == nil || len(last.Choices) != 0 || last.Usage.TotalTokens != 13 {
				t.Fatalf("usage chunk wrong: %+v", last)
			}
			finish = chunks[len(chunks)-2]
		} else {
			for _, c := range chunks {
				if c.Usage != nil {
					t.Fatal("usage chunk sent without include_usage")
				}
			}
		}
		if len(finish.Choices) != 1 || finish.Choices[0].FinishReason == nil || *finish.Choices[0].FinishReason != "stop" {
			t.Fatalf("finish chunk wrong: %+v", finish)
		}
		if th := ts.prov.lastReq.Load().Thinking; th == nil || !*th {
			t.Fatal("-thinking suffix must switch thinking on")
		}
		if m := ts.prov.lastReq.Load().Model; m != "qwen3.7-plus" {
			t.Fatalf("upstream model = %q", m)
		}
	}
}

func TestNonStreamFold(t *testing.T) {
	ts := newTestServer(t, Options{}, &fakeProvider{open: answer(
		upstream.Event{Type: upstream.EventReasoning, Text: "think"},
		upstream.Event{Type: upstream.EventContent, Text: "a"},
		upstream.Event{Type: upstream.EventContent, Text: "b"},
	)})
	resp := ts.post(t, "/chat/completions", `{"model":"Qwen3.7-Plus","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"text","text":"y"}]}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var cc struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Role             string `json:"role"`
				Content          string `json:"content"`
				ReasoningContent string `json:"reasoning_content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			TotalTokens             int `json:"total_tokens"`
			CompletionTokensDetails struct {
				ReasoningTokens int `json:"reasoning_tokens"`
			} `json:"completion_tokens_details"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cc); err != nil {
		t.Fatal(err)
	}
	m := cc.Choices[0].Message
	if cc.Object != "chat.completion" || m.Role != "assistant" || m.Content != "ab" || m.ReasoningContent != "think" ||
		cc.Choices[0].FinishReason != "stop" || cc.Usage.TotalTokens != 13 || cc.Usage.CompletionTokensDetails.ReasoningTokens != 1 {
		t.Fatalf("completion wrong: %+v", cc)
	}
	req := ts.prov.lastReq.Load()
	if req.Model != "qwen3.7-plus" || req.Thinking != nil || len(req.Messages) != 2 || req.Messages[1].Content != "x\ny" {
		t.Fatalf("upstream request wrong: %+v", req)
	}
}

func TestBadInput(t *testing.T) {
	ts := newTestServer(t, Options{MaxRequestBytes: 4096}, &fakeProvider{open: answer(upstream.Event{Type: upstream.EventContent, Text: "x"})})
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"malformed JSON", `{"model":`, 400, "invalid_json"},
		{"wrong type", `{"model":5,"messages":[]}`, 400, "invalid_type"},
		{"wrong content type", `{"model":"qwen3.7-plus","messages":[{"role":"user","content":5}]}`, 400, "invalid_type"},
		{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "missing_required_parameter"},
		{"no messages", `{"model":"qwen3.7-plus","messages":[]}`, 400, "missing_required_parameter"},
		{"n > 1", `{"model":"qwen3.7-plus","n":2,"messages":[{"role":"user","content":"hi"}]}`, 400, "unsupported_value"},
		{"image part without a URL", `{"model":"qwen3.7-plus","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, 400, "invalid_value"},
		{"audio part", `{"model":"qwen3.7-plus","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA","format":"wav"}}]}]}`, 400, "unsupported_content"},
		{"broken image data", `{"model":"qwen3.7-plus","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,@@"}}]}]}`, 400, "invalid_media_invalid_data_uri"},
		{"tool without a function", `{"model":"qwen3.7-plus","tools":[{"type":"function"}],"messages":[{"role":"user","content":"hi"}]}`, 400, "missing_required_parameter"},
		{"hosted tool", `{"model":"qwen3.7-plus","tools":[{"type":"web_search"}],"messages":[{"role":"user","content":"hi"}]}`, 400, "unsupported_value"},
		{"tool_choice names an undeclared tool", `{"model":"qwen3.7-plus","tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":{"type":"function","function":{"name":"b"}},"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_tools"},
		{"bad role", `{"model":"qwen3.7-plus","messages":[{"role":"robot","content":"hi"}]}`, 400, "invalid_value"},
		{"bad effort", `{"model":"qwen3.7-plus","reasoning_effort":"max","messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_value"},
		{"unknown model", `{"model":"qwen3.7-plsu","messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found"},
		{"huge body", `{"model":"qwen3.7-plus","messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`, 413, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eb := decodeError(t, ts.post(t, "/v1/chat/completions", tt.body), tt.status)
			if eb.Error.Code == nil || *eb.Error.Code != tt.code {
				t.Fatalf("code = %v, want %s (%s)", eb.Error.Code, tt.code, eb.Error.Message)
			}
			if tt.code == "model_not_found" && !strings.Contains(eb.Error.Message, "qwen3.7-plus") {
				t.Fatalf("no suggestion in %q", eb.Error.Message)
			}
		})
	}
}

func TestAuthAndRoutes(t *testing.T) {
	ts := newTestServer(t, Options{APIKey: "sk-relay"}, &fakeProvider{open: answer(upstream.Event{Type: upstream.EventContent, Text: "x"})})
	body := `{"model":"qwen3.7-plus","messages":[{"role":"user","content":"hi"}]}`
	decodeError(t, ts.post(t, "/v1/chat/completions", body), 401)
	decodeError(t, ts.post(t, "/v1/chat/completions", body, "Authorization", "Bearer wrong"), 401)
	if r := ts.post(t, "/v1/chat/completions", body, "Authorization", "Bearer sk-relay"); r.StatusCode != 200 {
		t.Fatalf("good key: %d", r.StatusCode)
	}
	if r := ts.post(t, "/v1/v1/chat/completions", body, "X-Api-Key", "sk-relay"); r.StatusCode != 200 {
		t.Fatalf("x-api-key on doubled path: %d", r.StatusCode)
	}
	resp, err := ts.Client().Get(ts.URL + "/v1/chat/completions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	decodeError(t, resp, 405)
	resp2, err := ts.Client().Get(ts.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	decodeError(t, resp2, 404)
}

func TestPassthroughUsesClientToken(t *testing.T) {
	var got atomic.Value
	prov := &fakeProvider{open: func(_ context.Context, cred upstream.Credential, _ *upstream.ChatRequest) (upstream.Stream, error) {
		got.Store(cred.Token)
		if cred.Token == "expired" {
			return nil, &upstream.Error{Kind: upstream.KindUnauthorized, Status: 401}
		}
		return &upstream.SliceStream{Events: []upstream.Event{{Type: upstream.EventContent, Text: "x"}}}, nil
	}}
	ts := newTestServer(t, Options{Passthrough: true}, prov)
	body := `{"model":"qwen3.7-plus","messages":[{"role":"user","content":"hi"}]}`
	decodeError(t, ts.post(t, "/v1/chat/completions", body), 401)
	if r := ts.post(t, "/v1/chat/completions", body, "Authorization", "Bearer qwen-jwt"); r.StatusCode != 200 || got.Load() != "qwen-jwt" {
		t.Fatalf("status %d token %v", r.StatusCode, got.Load())
	}
	eb := decodeError(t, ts.post(t, "/v1/chat/completions", body, "Authorization", "Bearer expired"), 401)
	if strings.Contains(eb.Error.Message, "expired\"") || *eb.Error.Code != "invalid_qwen_token" {
		t.Fatalf("%+v", eb)
	}
}

func TestUpstreamErrorsMapped(t *testing.T) {
	tests := []struct {
		kind       upstream.Kind
		status     int
		retryAfter string
	}{
		{upstream.KindCaptcha, 503, ""},
		{upstream.KindWAF, 503, ""},
		{upstream.KindQuota, 429, "14400"},
		{upstream.KindRateLimited, 429, "14400"},
		{upstream.KindUnauthorized, 502, ""},
		{upstream.KindContentFilter, 400, ""},
		{upstream.KindTooLarge, 413, ""},
		{upstream.KindTimeout, 504, ""},
		{upstream.KindNetwork, 502, ""},
		{upstream.KindEmpty, 502, ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			prov := &fakeProvider{open: func(context.Context, upstream.Credential, *upstream.ChatRequest) (upstream.Stream, error) {
				e := &upstream.Error{Kind: tt.kind, Message: "detail", URL: "https://secret-punish-url"}
				if tt.retryAfter != "" {
					e.RetryAfter = 4 * time.Hour
				}
				return nil, e
			}}
			ts := newTestServer(t, Options{}, prov)
			for _, stream := range []string{"false", "true"} {
				resp := ts.post(t, "/v1/chat/completions", `{"model":"qwen3.7-plus","stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`)
				eb := decodeError(t, resp, tt.status)
				if resp.Header.Get("Retry-After") != tt.retryAfter {
					t.Fatalf("Retry-After = %q", resp.Header.Get("Retry-After"))
				}
				if strings.Contains(eb.Error.Message, "secret-punish-url") {
					t.Fatal("punish URL leaked to the client")
				}
			}
		})
	}
}

func TestMidStreamErrorEndsWithErrorEvent(t *testing.T) {
	for _, kind := range []upstream.Kind{upstream.KindNetwork, upstream.KindContentFilter} {
		prov := &fakeProvider{open: func(context.Context, upstream.Credential, *upstream.ChatRequest) (upstream.Stream, error) {
			return &upstream.SliceStream{Events: []upstream.Event{{Type: upstream.EventContent, Text: "partial"}}, Err: &upstream.Error{Kind: kind}}, nil
		}}
		ts := newTestServer(t, Options{}, prov)
		resp := ts.post(t, "/v1/chat/completions", `{"model":"qwen3.7-plus","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		data, _ := sseData(t, resp.Body)
		chunks := decodeChunks(t, data)
		last := chunks[len(chunks)-1]
		if kind == upstream.KindContentFilter {
			if last.Choices[0].FinishReason == nil || *last.Choices[0].FinishReason != "content_filter" {
				t.Fatalf("want finish_reason content_filter, got %+v", last)
			}
		} else if last.Error == nil || last.Error.Code != "upstream_unreachable" {
			t.Fatalf("want an error event, got %q", data)
		}
	}
}

func TestHeartbeatWhileUpstreamSilent(t *testing.T) {
	release := make(chan struct{})
	prov := &fakeProvider{open: func(ctx context.Context, _ upstream.Credential, _ *upstream.ChatRequest) (upstream.Stream, error) {
		ch := make(chan upstream.Event, 1)
		ch <- upstream.Event{Type: upstream.EventContent, Text: "early"}
		go func() {
			<-release
			ch <- upstream.Event{Type: upstream.EventContent, Text: "late"}
			close(ch)
		}()
		return &chanStream{ctx: ctx, ch: ch}, nil
	}}
	ts := newTestServer(t, Options{HeartbeatInterval: 5 * time.Millisecond}, prov)
	resp := ts.post(t, "/v1/chat/completions", `{"model":"qwen3.7-plus","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	br := bufio.NewReader(resp.Body)
	first, _ := br.ReadString('\n')
	_, _ = br.ReadString('\n')
	beat, err := br.ReadString('\n')
	if !strings.Contains(first, "early") || err != nil || beat != ": keep-alive\n" {
		t.Fatalf("want the first chunk then a heartbeat while the upstream is silent, got %q %q %v", first, beat, err)
	}
	close(release)
	data, _ := sseData(t, br)
	if !strings.Contains(strings.Join(data, ""), "late") || data[len(data)-1] != "[DONE]" {
		t.Fatalf("got %q", data)
	}
}

// A client that stops reading must not hold its slot forever: the write
// deadline drops it (regression: the handler blocked in Write forever).
func TestStalledClientIsDropped(t *testing.T) {
	closed := make(chan struct{})
	prov := &fakeProvider{open: func(ctx context.Context, _ upstream.Credential, _ *upstream.ChatRequest) (upstream.Stream, error) {
		ch := make(chan upstream.Event, 1)
		big := strings.Repeat("x", 64<<10)
		go func() {
			defer close(closed)
			for {
				select {
				case ch <- upstream.Event{Type: upstream.EventContent, Text: big}:
				case <-ctx.Done():
					return
				}
			}
		}()
		return &chanStream{ctx: ctx, ch: ch}, nil
	}}
	ts := newTestServer(t, Options{ClientWriteTimeout: 200 * time.Millisecond}, prov)
	resp := ts.post(t, "/v1/chat/completions", `{"model":"qwen3.7-plus","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	_ = resp // never read: the socket buffers fill up
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler is still writing to a client that reads nothing")
	}
	if n := ts.srv.inFlight.Load(); n != 0 {
		deadline := time.Now().Add(5 * time.Second)
		for ts.srv.inFlight.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if ts.srv.inFlight.Load() != 0 {
			t.Fatal("request still counted in flight")
		}
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{})
	prov := &fakeProvider{open: func(ctx context.Context, _ upstream.Credential, _ *upstream.ChatRequest) (upstream.Stream, error) {
		ch := make(chan upstream.Event, 1)
		ch <- upstream.Event{Type: upstream.EventContent, Text: "first"}
		go func() {
			<-ctx.Done()
			close(cancelled)
		}()
		close(started)
		return &chanStream{ctx: ctx, ch: ch}, nil
	}}
	ts := newTestServer(t, Options{}, prov)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"qwen3.7-plus","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream context was not cancelled after the client left")
	}
}

func TestInFlightCap(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{})
	prov := &fakeProvider{open: func(ctx context.Context, _ upstream.Credential, _ *upstream.ChatRequest) (upstream.Stream, error) {
		once.Do(func() { close(entered) })
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &upstream.SliceStream{Events: []upstream.Event{{Type: upstream.EventContent, Text: "x"}}}, nil
	}}
	ts := newTestServer(t, Options{MaxInFlight: 1}, prov)
	body := `{"model":"qwen3.7-plus","messages":[{"role":"user","content":"hi"}]}`
	done := make(chan int)
	go func() {
		resp, err := ts.Client().Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-entered
	resp := ts.post(t, "/v1/chat/completions", body)
	decodeError(t, resp, 429)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	close(release)
	if code := <-done; code != 200 {
		t.Fatalf("first request: %d", code)
	}
}

func TestModelsCache(t *testing.T) {
	now := time.Unix(0, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	prov := &fakeProvider{}
	ts := newTestServer(t, Options{ModelsTTL: time.Hour, Now: clock}, prov)
	get := func(path string, hdr ...string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := ts.Client().Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := ts.Client().Get(ts.URL + "/v1/models")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := prov.modelCalls.Load(); n != 1 {
		t.Fatalf("model list fetched %d times, want 1 (single-flight + TTL)", n)
	}
	var list struct {
		Data []struct{ ID, Object, OwnedBy string } `json:"data"`
	}
	resp := get("/v1/models")
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "qwen3.7-plus,qwen3.7-plus-thinking,qwen3-coder-plus" {
		t.Fatalf("ids = %v", ids)
	}
	// Stale list served when the upstream is down after the TTL.
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	prov.modelsErr.Store(errors.New("down"))
	if r := get("/v1/models/qwen3.7-plus-thinking"); r.StatusCode != 200 {
		t.Fatalf("stale model lookup: %d", r.StatusCode)
	}
	decodeError(t, get("/v1/models/nope"), 404)
}

// JSON answers are gzipped only when the client accepts gzip and the body
// is large enough for it to help.
func TestJSONGzip(t *testing.T) {
	big := map[string]string{"text": strings.Repeat("qwen ", 400)}
	for _, tc := range []struct {
		name, accept string
		value        any
		want         bool
	}{
		{"large, accepted", "gzip, deflate", big, true},
		{"large, refused with q=0", "gzip;q=0", big, false},
		{"large, not accepted", "", big, false},
		{"small, accepted", "gzip", map[string]string{"a": "b"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Accept-Encoding", tc.accept)
			w := httptest.NewRecorder()
			writeJSON(w, r, http.StatusOK, tc.value)
			gz := w.Header().Get("Content-Encoding") == "gzip"
			if gz != tc.want {
				t.Fatalf("gzipped = %v, want %v", gz, tc.want)
			}
			body := io.Reader(w.Body)
			if gz {
				zr, err := gzip.NewReader(w.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			var back map[string]string
			if err := json.NewDecoder(body).Decode(&back); err != nil {
				t.Fatalf("body does not decode: %v", err)
			}
		})
	}
}

func TestCORSPreflight(t *testing.T) {
	ts := newTestServer(t, Options{APIKey: "k", CORSOrigins: []string{"https://app.example"}}, &fakeProvider{})
	req, _ := http.NewRequest(http.MethodOptions, ts.URL+"/v1/chat/completions", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req.Header.Set("Origin", "https://evil.example")
	resp, err = ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("unlisted origin allowed")
	}
}

// lyingStream claims its next event is buffered, then blocks: the frames
// already written must still reach the client (held-flush timer).
type lyingStream struct{ chanStream }

func (l *lyingStream) Buffered() bool { return true }

func TestHeldFrameIsFlushedWhenUpstreamBlocks(t *testing.T) {
	release := make(chan struct{})
	prov := &fakeProvider{open: func(ctx context.Context, _ upstream.Credential, _ *upstream.ChatRequest) (upstream.Stream, error) {
		ch := make(chan upstream.Event, 1)
		ch <- upstream.Event{Type: upstream.EventContent, Text: "first"}
		go func() {
			<-release
			close(ch)
		}()
		return &lyingStream{chanStream{ctx: ctx, ch: ch}}, nil
	}}
	ts := newTestServer(t, Options{}, prov)
	resp := ts.post(t, "/v1/chat/completions", `{"model":"qwen3.7-plus","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"first"`) {
		t.Fatalf("first frame not delivered while the upstream blocks: %q %v", line, err)
	}
	close(release)
}
