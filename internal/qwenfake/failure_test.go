package qwenfake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// reply is a non-stream answer.
type reply struct {
	status int
	ctype  string
	hdr    http.Header
	body   string
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil || !strings.HasPrefix(r.ctype, "application/json") {
		t.Fatalf("not JSON (%q): %s", r.ctype, r.body)
	}
	return v
}

func dataField(v map[string]any, k string) any { return v["data"].(map[string]any)[k] }

func TestPreStreamModes(t *testing.T) {
	tests := []struct {
		mode  string
		check func(t *testing.T, r reply)
	}{
		{ModeCaptcha, checkCaptcha},
		{ModeWAF, checkWAF},
		{ModeQuota, func(t *testing.T, r reply) {
			v := r.json(t)
			if r.status != 200 || v["success"] != false || dataField(v, "code") != "RateLimited" || dataField(v, "num") != 4.0 ||
				!strings.Contains(dataField(v, "template").(string), "{{num}}") || v["request_id"] == "" ||
				dataField(v, "details") != "You've reached the upper limit for today's usage." {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}},
		{ModeHTTP429, func(t *testing.T, r reply) {
			if r.status != 429 || r.hdr.Get("Retry-After") != "7" {
				t.Fatalf("%d %v", r.status, r.hdr)
			}
		}},
		{ModeHTTP401, func(t *testing.T, r reply) {
			if v := r.json(t); r.status != 401 || v["detail"] == nil {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}},
		{ModeHTTP403, func(t *testing.T, r reply) {
			if v := r.json(t); r.status != 403 || v["detail"] == nil {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}},
		{ModeHTTP500, func(t *testing.T, r reply) {
			if r.status != 500 {
				t.Fatalf("%d", r.status)
			}
		}},
		{ModeHTTP502, func(t *testing.T, r reply) {
			if r.status != 502 || !strings.Contains(r.body, "502 Bad Gateway") {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}},
		{ModeBadRequest, checkBadRequest},
		{ModeContentFilter, func(t *testing.T, r reply) {
			v := r.json(t)
			if r.status != 200 || dataField(v, "code") != "data_inspection_failed" ||
				dataField(v, "details") != "内容安全警告：输入数据可能包含不适当的内容！" {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			e := start(t, Options{})
			id := e.newChat("qwen3.7-plus")
			tt.check(t, e.post(simpleBody(id, "qwen3.7-plus", "[[qwenfake fail="+tt.mode+"]]", false, "")))
			e.fake.SetAccountFailure(e.uid, Failure{Mode: tt.mode})
			tt.check(t, e.post(simpleBody(id, "qwen3.7-plus", "no directive", false, "")))
			if got := e.fake.Stats().Failures[tt.mode]; got != 2 {
				t.Fatalf("Failures[%s] = %d", tt.mode, got)
			}
		})
	}
}

func checkCaptcha(t *testing.T, r reply) {
	t.Helper()
	v := r.json(t)
	ret, _ := v["ret"].([]any)
	url, _ := dataField(v, "url").(string)
	if r.status != 200 || len(ret) != 2 || ret[0] != "FAIL_SYS_USER_VALIDATE" || ret[1] != "RGV587_ERROR::SM::哎哟喂,被挤爆啦,请稍后重试" ||
		!strings.HasPrefix(url, "https://chat.qwen.ai:443//api/v2/chat/completions/_____tmd_____/punish?x5secdata=") ||
		!strings.HasSuffix(url, "&x5step=2&action=captcha&pureCaptcha=") {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func checkWAF(t *testing.T, r reply) {
	t.Helper()
	if r.status != 200 || !strings.HasPrefix(r.ctype, "text/html") || !strings.HasPrefix(r.body, "<!doctypehtml>") ||
		!strings.Contains(r.body, "aliyun_waf_aa") {
		t.Fatalf("%d %q %s", r.status, r.ctype, r.body)
	}
}

func checkBadRequest(t *testing.T, r reply) {
	t.Helper()
	v := r.json(t)
	if r.status != 200 || v["success"] != false || dataField(v, "code") != "Bad_Request" || dataField(v, "details") != "Internal error" {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// post sends a completion and returns the whole reply.
func (e *env) post(body any, hdr ...string) reply {
	e.t.Helper()
	chatID := ""
	if m, ok := body.(map[string]any); ok {
		chatID, _ = m["chat_id"].(string)
	}
	resp := e.do(context.Background(), "POST", "/api/v2/chat/completions?chat_id="+chatID, body, hdr...)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header, string(raw)}
}

func TestInStreamModes(t *testing.T) {
	const seed = "m"
	tests := []struct {
		mode  string
		check func(t *testing.T, res result)
	}{
		{ModeQuotaFrame, errFrameCheck("internal_error", "Allocated quota exceeded", "#token-limit")},
		{ModeErrorFrame, errFrameCheck("internal_error", "")},
		{ModeContentFilterMid, errFrameCheck("data_inspection_failed", "内容安全警告：输出内容")},
		{ModeCut, func(t *testing.T, res result) {
			if res.readErr == nil || res.finished || res.answer != AnswerText(seed, 3) {
				t.Fatalf("err %v finished %v answer %q", res.readErr, res.finished, res.answer)
			}
		}},
		{ModeMalformed, func(t *testing.T, res result) {
			if res.bad != 1 || !res.finished || res.answer != AnswerText(seed, 8) {
				t.Fatalf("bad %d finished %v answer %q", res.bad, res.finished, res.answer)
			}
		}},
		{ModeEmpty, func(t *testing.T, res result) {
			if res.answer != "" || !res.finished || len(res.frames) != 4 || res.frames[1].Choices[0].Delta.Status != "typing" {
				t.Fatalf("%q", res.raw)
			}
		}},
		{ModeThinkOnly, func(t *testing.T, res result) {
			if res.answer != "" || !res.finished || strings.Join(res.thoughts, "") != ReasoningText(seed, 8) {
				t.Fatalf("%q", res.raw)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			e := start(t, Options{})
			id := e.newChat("qwen3.7-plus")
			_, res := e.complete(simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=8 seed=m after=3 fail="+tt.mode+"]]", false, ""))
			tt.check(t, res)
			e.fake.SetAccountFailure(e.uid, Failure{Mode: tt.mode, After: 3, Times: 1})
			_, res = e.complete(simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=8 seed=m]]", false, ""))
			tt.check(t, res)
			if got := e.fake.Stats().Failures[tt.mode]; got != 2 {
				t.Fatalf("Failures[%s] = %d", tt.mode, got)
			}
			_, res = e.complete(simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=8 seed=m]]", false, ""))
			if res.answer != AnswerText(seed, 8) || !res.finished {
				t.Fatalf("Times=1 failure did not clear: %q", res.raw)
			}
		})
	}
}

func errFrameCheck(code string, details ...string) func(t *testing.T, res result) {
	return func(t *testing.T, res result) {
		t.Helper()
		if res.errFrame == nil || res.errFrame.Error.Code != code || res.finished || res.answer != AnswerText("m", 3) {
			t.Fatalf("frames %q", res.raw)
		}
		for _, d := range details {
			if !strings.Contains(res.errFrame.Error.Details, d) {
				t.Fatalf("details %q lack %q", res.errFrame.Error.Details, d)
			}
		}
	}
}

func TestStallModes(t *testing.T) {
	e := start(t, Options{})
	id := e.newChat("qwen3.7-plus")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	raw, _ := json.Marshal(simpleBody(id, "qwen3.7-plus", "[[qwenfake fail=stall]]", false, ""))
	req, _ := http.NewRequestWithContext(ctx, "POST", e.ts.URL+"/api/v2/chat/completions?chat_id="+id, strings.NewReader(string(raw)))
	req.Header.Set("Authorization", "Bearer "+e.token)
	if resp, err := e.c.Do(req); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("stall: got a response (err %v)", err)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	resp := e.do(ctx2, "POST", "/api/v2/chat/completions?chat_id="+id,
		simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=8 seed=m after=2 fail=stall_mid]]", false, ""))
	res := readStream(resp.Body)
	resp.Body.Close()
	if res.readErr == nil || res.finished || res.answer != AnswerText("m", 2) {
		t.Fatalf("stall_mid: err %v answer %q", res.readErr, res.answer)
	}
	if st := e.fake.Stats(); st.Failures[ModeStall] != 1 || st.Failures[ModeStallMid] != 1 {
		t.Fatalf("stats %+v", st.Failures)
	}
}

// TestCloseReleasesStalls checks that Close ends stalled handlers.
func TestCloseReleasesStalls(t *testing.T) {
	e := start(t, Options{FrameDelay: time.Hour})
	id := e.newChat("qwen3.7-plus")
	done := make(chan error, 2)
	for _, text := range []string{"[[qwenfake fail=stall]]", "[[qwenfake tokens=3]]"} {
		go func() {
			raw, _ := json.Marshal(simpleBody(id, "qwen3.7-plus", text, false, ""))
			req, _ := http.NewRequest("POST", e.ts.URL+"/api/v2/chat/completions?chat_id="+id, strings.NewReader(string(raw)))
			req.Header.Set("Authorization", "Bearer "+e.token)
			resp, err := e.c.Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			done <- err
		}()
	}
	for e.fake.Account(e.uid).InFlight < 2 {
		time.Sleep(time.Millisecond)
	}
	e.fake.Close()
	for range 2 {
		if err := <-done; err == nil {
			t.Fatal("a released stream ended cleanly")
		}
	}
}

func TestFailureTimesPerID(t *testing.T) {
	e := start(t, Options{})
	id := e.newChat("qwen3.7-plus")
	statuses := func(text string, n int) []int {
		var out []int
		for range n {
			out = append(out, e.post(simpleBody(id, "qwen3.7-plus", text, false, "")).status)
		}
		return out
	}
	a := statuses("[[qwenfake fail=http500 times=2 id=a tokens=1]]", 3)
	b := statuses("[[qwenfake fail=http500 times=1 id=b tokens=1]]", 2)
	always := statuses("[[qwenfake fail=http502 tokens=1]]", 2)
	if a[0] != 500 || a[1] != 500 || a[2] != 200 || b[0] != 500 || b[1] != 200 || always[0] != 502 || always[1] != 502 {
		t.Fatalf("a=%v b=%v always=%v", a, b, always)
	}
	e.fake.Reset()
	if got := statuses("[[qwenfake fail=http500 times=2 id=a tokens=1]]", 1); got[0] != 500 {
		t.Fatalf("Reset did not clear per-id counters: %v", got)
	}
	// An account failure wins over the directive; the zero Failure clears it.
	e.fake.SetAccountFailure(e.uid, Failure{Mode: ModeHTTP403})
	if got := statuses("[[qwenfake fail=http500 tokens=1]]", 1); got[0] != 403 {
		t.Fatalf("account failure: %v", got)
	}
	e.fake.SetAccountFailure(e.uid, Failure{})
	if got := statuses("[[qwenfake tokens=1]]", 1); got[0] != 200 {
		t.Fatalf("cleared account failure: %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("unknown mode accepted")
		}
	}()
	e.fake.SetAccountFailure(e.uid, Failure{Mode: "nope"})
}
