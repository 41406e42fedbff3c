package qwen

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

const (
	quotaJSON   = `{"success":false,"request_id":"9b1c","data":{"code":"RateLimited","details":"You've reached the upper limit for today's usage.","template":"You've reached the upper limit for today's usage. Please wait {{num}} hours and try again.","num":4}}`
	badReqJSON  = `{"success":false,"data":{"code":"Bad_Request","details":"Internal error"}}`
	filterJSON  = `{"success":false,"data":{"code":"data_inspection_failed","details":"内容安全警告：输入数据可能包含不适当的内容！"}}`
	captchaURL  = "https://chat.qwen.ai:443//api/v2/chat/completions/_____tmd_____/punish?x5secdata=xyz&x5step=2&action=captcha&pureCaptcha="
	captchaJSON = `{"ret":["FAIL_SYS_USER_VALIDATE","RGV587_ERROR::SM::哎哟喂,被挤爆啦,请稍后重试"],"data":{"url":"` + captchaURL + `"}}`
	wafHTML     = `<!doctypehtml><html><head><script>var aliyun_waf_aa = 1;</script></head><body>人机验证</body></html>`
	tokenEcho   = `{"success":false,"data":{"code":"Unauthorized","details":"bad token ` + testToken + `"}}`
)

// errorCase is one row of docs/qwen-protocol.md §7: an upstream answer and its classification.
type errorCase struct {
	name    string
	handler http.HandlerFunc
	kind    upstream.Kind
	code    string
	status  int
	retry   time.Duration
	url     string
}

func errorCases() []errorCase {
	httpDate := time.Date(2026, 6, 3, 12, 0, 30, 0, time.UTC).Format(http.TimeFormat)
	inStream := func(frame string) http.HandlerFunc {
		return serveSSE(`data: {"response.created":{"chat_id": "c"}}` + "\n\n" + "data: " + frame + "\n\n")
	}
	return []errorCase{
		{"quota json 200", serveBody(200, "application/json", quotaJSON), upstream.KindQuota, "RateLimited", 200, 4 * time.Hour, ""},
		{"bad_request json", serveBody(200, "application/json; charset=utf-8", badReqJSON), upstream.KindTransient, "Bad_Request", 200, 0, ""},
		{"content filter json", serveBody(200, "application/json", filterJSON), upstream.KindContentFilter, "data_inspection_failed", 200, 0, ""},
		{"captcha json", serveBody(200, "application/json", captchaJSON), upstream.KindCaptcha, "FAIL_SYS_USER_VALIDATE", 200, 0, captchaURL},
		{"captcha json 403", serveBody(403, "application/json", captchaJSON), upstream.KindCaptcha, "FAIL_SYS_USER_VALIDATE", 403, 0, captchaURL},
		{"waf html", serveBody(200, "text/html", wafHTML), upstream.KindWAF, "aliyun_waf_aa", 200, 0, ""},
		{"waf html 405", serveBody(405, "text/html; charset=utf-8", `<html>baxia punish</html>`), upstream.KindWAF, "punish", 405, 0, ""},
		{"other html", serveBody(200, "text/html", `<html><body>Welcome</body></html>`), upstream.KindTransient, "", 200, 0, ""},
		{"401", serveBody(401, "application/json", `{"detail":"Your session has expired or the token is invalid."}`), upstream.KindUnauthorized, "", 401, 0, ""},
		{"403 html", serveBody(403, "text/html", `<html>Forbidden</html>`), upstream.KindUnauthorized, "", 403, 0, ""},
		{"429 seconds", serveBody(429, "", "", "Retry-After", "7"), upstream.KindRateLimited, "", 429, 7 * time.Second, ""},
		{"429 date", serveBody(429, "text/plain", "slow down", "Retry-After", httpDate), upstream.KindRateLimited, "", 429, 30 * time.Second, ""},
		{"500", serveBody(500, "text/plain", "boom"), upstream.KindTransient, "", 500, 0, ""},
		{"502 html", serveBody(502, "text/html", "<html>Bad Gateway</html>"), upstream.KindTransient, "", 502, 0, ""},
		{"400", serveBody(400, "application/json", `{"detail":"bad"}`), upstream.KindBadRequest, "", 400, 0, ""},
		{"json without marker", serveBody(200, "application/json", `{"success":true,"data":{}}`), upstream.KindBadResponse, "", 200, 0, ""},
		{"json without content type", serveBody(200, "", quotaJSON), upstream.KindQuota, "RateLimited", 200, 4 * time.Hour, ""},
		{"token echoed", serveBody(200, "application/json", tokenEcho), upstream.KindUnauthorized, "Unauthorized", 200, 0, ""},
		{"stream error object", inStream(`{"error":{"code":"data_inspection_failed","details":"内容安全警告：输出内容可能包含不适当的内容！"}}`), upstream.KindContentFilter, "data_inspection_failed", 0, 0, ""},
		{"stream quota message", inStream(`{"error":{"code":"internal_error","message":"Allocated quota exceeded, please increase your quota limit. #token-limit"}}`), upstream.KindQuota, "internal_error", 0, 0, ""},
		{"stream success false", inStream(quotaJSON), upstream.KindQuota, "RateLimited", 0, 4 * time.Hour, ""},
		{"stream captcha", inStream(captchaJSON), upstream.KindCaptcha, "FAIL_SYS_USER_VALIDATE", 0, 0, captchaURL},
		{"stream internal error", inStream(`{"error":{"code":"internal_error","details":"An internal error has occurred, please try again later."}}`), upstream.KindTransient, "internal_error", 0, 0, ""},
		{"stream unknown code", inStream(`{"error":{"code":"Weird","message":"?"}}`), upstream.KindTransient, "Weird", 0, 0, ""},
		{"stream malformed", inStream(`{"choices":[`), upstream.KindBadResponse, "", 0, 0, ""},
		{"stream cut", inStream(`{"choices": [{"delta": {"content": "Hi", "phase": "answer", "status": "typing"}}]}`), upstream.KindNetwork, "", 0, 0, ""},
		{"stream empty", inStream(`{"choices": [{"delta": {"content": "", "phase": "answer", "status": "finished"}}]}`), upstream.KindEmpty, "", 0, 0, ""},
		{"body cut mid-frame", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(200)
			w.Write([]byte(`data: {"choices": [{"delta": {"content": "Hi"`))
		}, upstream.KindNetwork, "", 0, 0, ""},
	}
}

// TestErrorRows runs every row of docs/qwen-protocol.md §7 against completions.
func TestErrorRows(t *testing.T) {
	for _, tc := range errorCases() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.handler)
			o, err := run(context.Background(), f.client(t, nil), userReq("hi"))
			if err == nil {
				err = o.err
			}
			checkError(t, err, tc)
		})
	}
}

// TestChatsNewErrors: the same classification applies to chats/new.
func TestChatsNewErrors(t *testing.T) {
	for _, tc := range errorCases() {
		if strings.HasPrefix(tc.name, "stream") || strings.HasPrefix(tc.name, "body") || tc.kind == upstream.KindBadResponse {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, nil)
			f.newChat = tc.handler
			_, err := f.client(t, nil).OpenChat(context.Background(), testCred, userReq("hi"))
			checkError(t, err, tc)
			if _, ok := f.last("/api/v2/chat/completions"); ok {
				t.Error("completion sent after a failed chats/new")
			}
		})
	}
}

func checkError(t *testing.T, err error, tc errorCase) {
	t.Helper()
	ue, ok := upstream.AsError(err)
	if !ok {
		t.Fatalf("err = %v (%T), want *upstream.Error", err, err)
	}
	if ue.Kind != tc.kind || ue.Code != tc.code || ue.Status != tc.status || ue.RetryAfter != tc.retry || ue.URL != tc.url {
		t.Errorf("got kind=%s code=%q status=%d retry=%v url=%q, want kind=%s code=%q status=%d retry=%v url=%q (%v)",
			ue.Kind, ue.Code, ue.Status, ue.RetryAfter, ue.URL, tc.kind, tc.code, tc.status, tc.retry, tc.url, err)
	}
	if ue.Message == "" {
		t.Error("empty message")
	}
	checkNoToken(t, err)
}

func TestChatsNewIDShapes(t *testing.T) {
	for _, body := range []string{
		`{"success":true,"data":{"id":"` + testChatID + `"}}`,
		`{"success":true,"data":{"chat":{"chat_id":"` + testChatID + `"}}}`,
	} {
		f := newFake(t, serveSSE(readTestdata(t, "v2_fast_answer.sse")))
		f.newChat = serveBody(200, "application/json", body)
		if o, err := run(context.Background(), f.client(t, nil), userReq("x")); err != nil || o.err != nil {
			t.Fatalf("%s: %v %v", body, err, o.err)
		}
		if r, _ := f.last("/api/v2/chat/completions"); r.Query != "chat_id="+testChatID {
			t.Errorf("query %q", r.Query)
		}
	}
	f := newFake(t, nil)
	f.newChat = serveBody(200, "application/json", `{"success":true,"data":{}}`)
	if _, err := f.client(t, nil).OpenChat(context.Background(), testCred, userReq("x")); kindOf(err) != upstream.KindBadResponse {
		t.Errorf("missing id: %v", err)
	}
}

func TestNetworkError(t *testing.T) {
	f := newFake(t, nil)
	url := f.srv.URL
	f.srv.Close()
	c := newTestClient(t, url, nil)
	_, err := c.OpenChat(context.Background(), testCred, userReq("x"))
	if kindOf(err) != upstream.KindNetwork {
		t.Fatalf("err = %v", err)
	}
	checkNoToken(t, err)
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, "12": 12 * time.Second, "-3": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
