package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

const model = "qwen3.7-plus"

func directive(kv string) string { return "Say something. [[qwenfake " + kv + "]]" }

func TestStreamReassemblesExactly(t *testing.T) {
	e := start(t, setup{emu: qwenfake.Options{SplitWrites: 3}})
	p := params(model, directive("tokens=64 seed=s1"))
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	r := e.stream(context.Background(), p)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := qwenfake.AnswerText("s1", 64); r.content != want {
		t.Fatalf("content differs:\n got %q\nwant %q", r.content, want)
	}
	if r.roles != 1 || len(r.ids) != 1 || r.finish != "stop" {
		t.Fatalf("roles=%d ids=%d finish=%q", r.roles, len(r.ids), r.finish)
	}
	if r.usage == nil || r.usage.CompletionTokens == 0 || r.usage.PromptTokens == 0 {
		t.Fatalf("usage = %+v", r.usage)
	}
}

func TestStreamWithoutUsageOption(t *testing.T) {
	e := start(t, setup{})
	r := e.stream(context.Background(), params(model, directive("tokens=8 seed=s2")))
	if r.err != nil || r.usage != nil {
		t.Fatalf("err=%v usage=%v (usage chunk only when asked)", r.err, r.usage)
	}
}

func TestNonStream(t *testing.T) {
	e := start(t, setup{})
	c, err := e.client.Chat.Completions.New(context.Background(), params(model, directive("tokens=32 seed=s3")))
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content != qwenfake.AnswerText("s3", 32) || c.Choices[0].FinishReason != "stop" {
		t.Fatalf("%+v", c.Choices[0])
	}
	if c.Usage.CompletionTokens == 0 || c.Usage.TotalTokens == 0 {
		t.Fatalf("usage %+v", c.Usage)
	}
}

func TestThinking(t *testing.T) {
	for _, format := range []string{"summary", "detail"} {
		t.Run(format, func(t *testing.T) {
			e := start(t, setup{cfg: func(c *config.Config) { c.ThinkingFormat = format }})
			want := qwenfake.SummaryText("t1", 8)
			if format == "detail" {
				want = qwenfake.ReasoningText("t1", 8)
			}
			r := e.stream(context.Background(), params(model+"-thinking", directive("tokens=16 think=8 seed=t1")))
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.reasoning != want || r.content != qwenfake.AnswerText("t1", 16) {
				t.Fatalf("reasoning %q\nwant      %q\ncontent %q", r.reasoning, want, r.content)
			}
			// enable_thinking and reasoning_effort switch it too; non-stream
			// carries reasoning_content.
			p := params(model, directive("tokens=4 think=8 seed=t1"))
			p.ReasoningEffort = openai.ReasoningEffortHigh
			c, err := e.client.Chat.Completions.New(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if got := unquote(c.Choices[0].Message.JSON.ExtraFields["reasoning_content"].Raw()); got != want {
				t.Fatalf("non-stream reasoning %q", got)
			}
			// Without any switch there is no reasoning.
			r = e.stream(context.Background(), params(model, directive("tokens=4 think=8 seed=t1")))
			if r.err != nil || r.reasoning != "" {
				t.Fatalf("reasoning without asking: %q %v", r.reasoning, r.err)
			}
		})
	}
}

func TestModels(t *testing.T) {
	e := start(t, setup{})
	page, err := e.client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range page.Data {
		ids[m.ID] = true
	}
	if !ids[model] || !ids[model+"-thinking"] {
		t.Fatalf("models: %v", ids)
	}
	m, err := e.client.Models.Get(context.Background(), model+"-thinking")
	if err != nil || m.ID != model+"-thinking" {
		t.Fatalf("%v %v", m, err)
	}
	_, err = e.client.Chat.Completions.New(context.Background(), params("qwen3.7-plsu", "hi"))
	ae := apiErr(t, err)
	if ae.StatusCode != 404 || ae.Code != "model_not_found" || !strings.Contains(ae.Message, model) {
		t.Fatalf("%d %s %s", ae.StatusCode, ae.Code, ae.Message)
	}
}

// failureCase is one upstream failure and what the client must see.
type failureCase struct {
	name   string
	dir    string
	status int    // non-stream status, and stream status when nothing was sent yet
	code   string // OpenAI error code
	mid    bool   // the failure happens after content was streamed
}

var failures = []failureCase{
	{"captcha", "fail=captcha", 503, "upstream_verification_required", false},
	{"waf", "fail=waf", 503, "upstream_verification_required", false},
	{"quota", "fail=quota", 429, "upstream_quota_exceeded", false},
	{"http429", "fail=http429", 429, "upstream_rate_limited", false},
	{"http401", "fail=http401", 502, "upstream_auth_failed", false},
	{"http403", "fail=http403", 502, "upstream_auth_failed", false},
	{"http500", "fail=http500", 502, "upstream_error", false},
	{"bad_request", "fail=bad_request", 502, "upstream_error", false},
	{"content_filter", "fail=content_filter", 400, "content_filter", false},
	{"error_frame", "fail=error_frame", 502, "upstream_error", false},
	{"quota_frame", "fail=quota_frame", 429, "upstream_quota_exceeded", false},
	{"empty", "fail=empty", 502, "upstream_empty_answer", false},
	{"think_only", "fail=think_only", 502, "upstream_empty_answer", true}, // reasoning streams before the empty answer shows
	{"stall", "fail=stall", 504, "upstream_timeout", false},
	{"malformed before content", "fail=malformed after=0", 502, "upstream_error", false},
	{"cut", "fail=cut after=3", 502, "upstream_unreachable", true},
	{"stall_mid", "fail=stall_mid after=3", 504, "upstream_timeout", true},
	{"malformed mid", "fail=malformed after=3", 502, "upstream_error", true},
	{"error frame mid", "fail=error_frame after=3", 502, "upstream_error", true},
}

func TestFailureModes(t *testing.T) {
	for _, fc := range failures {
		t.Run(fc.name, func(t *testing.T) {
			// A fresh relay per subtest: quota and rate-limit answers rightly
			// cool the token down for later requests.
			fresh := func(t *testing.T) *env {
				return start(t, setup{cfg: func(c *config.Config) {
					c.FirstByteTimeout = 300 * time.Millisecond
					c.IdleTimeout = 300 * time.Millisecond
					c.RetryAttempts = 2
					c.RetryBudget = time.Second
				}})
			}
			t.Run("non-stream", func(t *testing.T) {
				e := fresh(t)
				_, err := e.client.Chat.Completions.New(context.Background(), params(model, directive("tokens=8 "+fc.dir)))
				ae := apiErr(t, err)
				if ae.StatusCode != fc.status || ae.Code != fc.code {
					t.Fatalf("got %d %q (%s), want %d %q", ae.StatusCode, ae.Code, ae.Message, fc.status, fc.code)
				}
			})
			t.Run("stream", func(t *testing.T) {
				e := fresh(t)
				r := e.stream(context.Background(), params(model, directive("tokens=8 "+fc.dir)))
				if r.err == nil {
					t.Fatalf("stream ended without an error; content %q", r.content)
				}
				if !fc.mid {
					ae := apiErr(t, r.err)
					if ae.StatusCode != fc.status || ae.Code != fc.code {
						t.Fatalf("got %d %q, want %d %q", ae.StatusCode, ae.Code, fc.status, fc.code)
					}
					return
				}
				if r.content+r.reasoning == "" || !strings.Contains(r.err.Error(), fc.code) {
					t.Fatalf("mid-stream: content %q err %v", r.content, r.err)
				}
			})
		})
	}
}

func TestRetryAfterHeaders(t *testing.T) {
	for dir, want := range map[string]string{"fail=quota": "14400", "fail=http429": "7"} {
		e := start(t, setup{})
		resp := e.rawChat(directive(dir))
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != want {
			t.Fatalf("%s: %d Retry-After %q, want %s", dir, resp.StatusCode, resp.Header.Get("Retry-After"), want)
		}
	}
}

func TestContentFilterMidStream(t *testing.T) {
	e := start(t, setup{})
	r := e.stream(context.Background(), params(model, directive("tokens=8 fail=content_filter_mid after=3")))
	if r.err != nil || r.finish != "content_filter" || r.content == "" {
		t.Fatalf("finish %q content %q err %v", r.finish, r.content, r.err)
	}
}

func TestTransientFailureIsRetried(t *testing.T) {
	for _, mode := range []string{"bad_request", "http500", "empty", "cut after=0"} {
		// The pool never retries on the same account, so two are needed;
		// a fresh pool per mode, since failures cool an account down.
		e := start(t, setup{users: []string{"alice", "bob"}})
		c, err := e.client.Chat.Completions.New(context.Background(), params(model, directive("tokens=8 seed=r times=1 id="+strings.Fields(mode)[0]+" fail="+mode)))
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if c.Choices[0].Message.Content != qwenfake.AnswerText("r", 8) {
			t.Fatalf("%s: %q", mode, c.Choices[0].Message.Content)
		}
	}
}

func TestFailoverToAnotherToken(t *testing.T) {
	e := start(t, setup{users: []string{"alice", "bob"}})
	e.emu.SetAccountFailure("alice", qwenfake.Failure{Mode: qwenfake.ModeCaptcha})
	for i := 0; i < 4; i++ {
		r := e.stream(context.Background(), params(model, directive("tokens=8 seed=f")))
		if r.err != nil || r.content != qwenfake.AnswerText("f", 8) {
			t.Fatalf("request %d: %v %q", i, r.err, r.content)
		}
	}
	if e.emu.Account("bob").Requests != 4 {
		t.Fatalf("bob served %d", e.emu.Account("bob").Requests)
	}
}

func TestExpiredToken(t *testing.T) {
	e := start(t, setup{tokenTT: -time.Minute})
	_, err := e.client.Chat.Completions.New(context.Background(), params(model, "hi"))
	ae := apiErr(t, err)
	t.Logf("message: %s", ae.Message)
	if ae.StatusCode != 503 || ae.Code != "no_upstream_account" || !strings.Contains(ae.Message, "expired") {
		t.Fatalf("%d %s %s", ae.StatusCode, ae.Code, ae.Message)
	}
}

func TestPassthrough(t *testing.T) {
	e := start(t, setup{cfg: func(c *config.Config) { c.Passthrough, c.QwenTokens, c.APIKey = true, nil, "" }})
	good := openaiClient(e, e.tokens[0])
	c, err := good.Chat.Completions.New(context.Background(), params(model, directive("tokens=4 seed=p")))
	if err != nil || c.Choices[0].Message.Content != qwenfake.AnswerText("p", 4) {
		t.Fatalf("%v", err)
	}
	expired := openaiClient(e, e.emu.MintToken("alice", -time.Minute))
	_, err = expired.Chat.Completions.New(context.Background(), params(model, "hi"))
	if ae := apiErr(t, err); ae.StatusCode != 401 || ae.Code != "invalid_qwen_token" {
		t.Fatalf("%d %s", ae.StatusCode, ae.Code)
	}
}

func TestTooLargeRefusedBeforeSending(t *testing.T) {
	e := start(t, setup{})
	before := e.emu.Stats().Completions
	_, err := e.client.Chat.Completions.New(context.Background(), params(model, strings.Repeat("长文本 ", 30000)))
	if ae := apiErr(t, err); ae.StatusCode != 413 || ae.Code != "context_too_large" {
		t.Fatalf("%d %s %s", ae.StatusCode, ae.Code, ae.Message)
	}
	if e.emu.Stats().Completions != before {
		t.Fatal("an over-limit body reached the upstream")
	}
}

func TestProtocolVariants(t *testing.T) {
	for name, set := range map[string]func(*config.Config){
		"simple body":  func(c *config.Config) { c.BodyStyle = "simple" },
		"legacy":       func(c *config.Config) { c.Protocol = "legacy" },
		"browser body": func(c *config.Config) { c.BodyStyle = "browser" },
	} {
		t.Run(name, func(t *testing.T) {
			e := start(t, setup{emu: qwenfake.Options{SplitWrites: 5, Gzip: true}, cfg: set})
			r := e.stream(context.Background(), params(model, directive("tokens=40 seed=v")))
			if r.err != nil || r.content != qwenfake.AnswerText("v", 40) {
				t.Fatalf("%v\n got %q\nwant %q", r.err, r.content, qwenfake.AnswerText("v", 40))
			}
		})
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	e := start(t, setup{})
	ctx, cancel := context.WithCancel(context.Background())
	st := e.client.Chat.Completions.NewStreaming(ctx, params(model, directive("tokens=500 delay=20ms")))
	if !st.Next() {
		t.Fatal(st.Err())
	}
	if e.emu.Account("alice").InFlight != 1 {
		t.Fatal("stream not in flight upstream")
	}
	cancel()
	st.Close()
	deadline := time.Now().Add(5 * time.Second)
	for e.emu.Account("alice").InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatal("upstream stream still open after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConcurrentStreams(t *testing.T) {
	// Generous timeouts: under -race on two CPUs, 60 streams at once can be
	// slow, and this test is about correctness, not speed.
	e := start(t, setup{users: []string{"a", "b", "c"}, emu: qwenfake.Options{SplitWrites: 7}, cfg: func(c *config.Config) {
		c.FirstByteTimeout, c.IdleTimeout = 30*time.Second, 30*time.Second
	}})
	var wg sync.WaitGroup
	errs := make(chan string, 60)
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			seed := "c" + string(rune('A'+i%26)) + string(rune('a'+i/26))
			r := e.stream(context.Background(), params(model, directive("tokens=32 seed="+seed)))
			if r.err != nil || r.content != qwenfake.AnswerText(seed, 32) {
				errs <- seed
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Errorf("stream %s failed or was corrupted", s)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	e := start(t, setup{})
	_ = e.stream(context.Background(), params(model, directive("tokens=4")))
	_, _ = e.client.Chat.Completions.New(context.Background(), params(model, directive("fail=captcha")))
	resp, body := e.get("/metrics")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	for _, want := range []string{
		`qwenrelay_requests_total{route="chat",status="200"}`,
		`qwenrelay_upstream_errors_total{kind="captcha"}`,
		"qwenrelay_time_to_first_token_seconds_bucket",
		"qwenrelay_request_duration_seconds_bucket",
		"qwenrelay_requests_in_flight",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if resp, _ := e.get("/healthz"); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
}
