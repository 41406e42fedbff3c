package qwen

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// wafMarkers identify the Aliyun WAF / baxia captcha HTML page (docs/qwen-protocol.md §7).
var wafMarkers = []string{"aliyun_waf_aa", "aliyuncaptcha", "punish", "x5sec", "baxia", "人机验证"}

// classifyAnswer classifies a complete non-SSE answer (any status). For a
// 2xx JSON answer without an error marker it returns nil when okJSON is set
// (the caller wanted JSON) and KindBadResponse otherwise.
func (c *Client) classifyAnswer(resp *http.Response, body []byte, okJSON bool) *upstream.Error {
	status := resp.StatusCode
	ct := mediaType(resp.Header)
	trimmed := bytes.TrimSpace(body)
	var detail string
	if ct == "text/html" || bytes.HasPrefix(trimmed, []byte("<")) {
		if e := classifyHTML(trimmed); e != nil {
			e.Status = status
			return e
		}
		if status == http.StatusOK {
			return &upstream.Error{Kind: upstream.KindTransient, Status: status,
				Message: "unexpected HTML page from the upstream"}
		}
	} else if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && gjson.ValidBytes(trimmed) {
		e, d := classifyJSON(trimmed)
		if e != nil {
			e.Status = status
			return e
		}
		detail = d
		if status >= 200 && status < 300 && okJSON {
			return nil
		}
	}
	e := classifyStatus(status, resp.Header, c.now())
	if detail != "" {
		e.Message += ": " + detail
	}
	return e
}

// classifyStatus maps an HTTP status alone.
func classifyStatus(status int, h http.Header, now time.Time) *upstream.Error {
	e := &upstream.Error{Status: status}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind, e.Message = upstream.KindUnauthorized, "the upstream rejected the token"
	case status == http.StatusTooManyRequests:
		e.Kind, e.Message = upstream.KindRateLimited, "the upstream is rate limiting this account"
		e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), now)
	case status == http.StatusRequestEntityTooLarge:
		e.Kind, e.Message = upstream.KindTooLarge, "the upstream refused the request as too large: the conversation must be shortened"
	case status >= 500:
		e.Kind, e.Message = upstream.KindTransient, "the upstream failed"
	case status == http.StatusNotFound:
		e.Kind, e.Message = upstream.KindBadRequest, "the upstream endpoint was not found (protocol change?)"
	case status >= 400:
		e.Kind, e.Message = upstream.KindBadRequest, "the upstream refused the request"
	case status == http.StatusOK:
		e.Kind, e.Message = upstream.KindBadResponse, "unexpected upstream answer (not an event stream)"
	default:
		e.Kind, e.Message = upstream.KindBadResponse, fmt.Sprintf("unexpected upstream status %d", status)
	}
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// classifyHTML recognises the WAF page; other HTML returns nil (the status
// decides).
func classifyHTML(body []byte) *upstream.Error {
	if len(body) > 256<<10 {
		body = body[:256<<10]
	}
	low := bytes.ToLower(body)
	for _, m := range wafMarkers {
		if bytes.Contains(low, []byte(m)) {
			return &upstream.Error{Kind: upstream.KindWAF, Code: m,
				Message: "the upstream WAF asked for human verification"}
		}
	}
	return nil
}

// classifyFrame classifies an in-stream error frame. data is copied first:
// it is the decoder's buffer, and the error's strings must outlive it.
func classifyFrame(data []byte) error {
	data = bytes.Clone(data)
	if e, detail := classifyJSON(data); e != nil {
		return e
	} else if detail != "" {
		return &upstream.Error{Kind: upstream.KindTransient, Message: "upstream error: " + detail}
	}
	return &upstream.Error{Kind: upstream.KindTransient, Message: "the upstream reported an error"}
}

// classifyJSON recognises the JSON error shapes of docs/qwen-protocol.md §7: the captcha
// ("ret"), {"success":false,"data":{code,details}}, {"error":{code,…}}. It
// returns nil and a safe detail text (from "detail"/"message") otherwise.
func classifyJSON(body []byte) (*upstream.Error, string) {
	r := gjson.ParseBytes(body)
	if ret := r.Get("ret"); ret.Exists() && ret.Raw != "[]" {
		if e := captcha(ret, r); e != nil {
			return e, ""
		}
	}
	if eo := r.Get("error"); eo.IsObject() {
		return fromCode(eo.Get("code").String(), firstText(eo, "details", "message"), eo), ""
	} else if eo.Type == gjson.String && eo.Str != "" {
		return fromCode("", eo.Str, eo), ""
	}
	if s := r.Get("success"); s.Type == gjson.False {
		data := r.Get("data")
		return fromCode(data.Get("code").String(), firstText(data, "details", "message"), data), ""
	}
	if d := r.Get("detail"); d.Exists() {
		return nil, snippet(d.String(), 300)
	}
	return nil, snippet(r.Get("message").String(), 300)
}

func captcha(ret, r gjson.Result) *upstream.Error {
	var code, msg string
	ret.ForEach(func(_, v gjson.Result) bool {
		s := v.String()
		if code == "" {
			code, _, _ = strings.Cut(s, "::")
		}
		if strings.Contains(s, "FAIL_SYS_USER_VALIDATE") || strings.Contains(s, "RGV587") {
			msg = s
		}
		return true
	})
	if msg == "" && !strings.HasPrefix(code, "FAIL_SYS") {
		return nil
	}
	return &upstream.Error{Kind: upstream.KindCaptcha, Code: code,
		Message: "the upstream asked for a captcha (risk control)", URL: r.Get("data.url").String()}
}

func firstText(r gjson.Result, keys ...string) string {
	for _, k := range keys {
		if v := r.Get(k); v.Type == gjson.String && v.Str != "" {
			return v.Str
		}
	}
	return ""
}

// fromCode maps an upstream error code and text to a kind.
func fromCode(code, text string, data gjson.Result) *upstream.Error {
	e := &upstream.Error{Code: code}
	detail := snippet(text, 300)
	low := strings.ToLower(code)
	switch {
	case code == "RateLimited":
		e.Kind = upstream.KindQuota
		if n := data.Get("num").Int(); n > 0 {
			e.RetryAfter = time.Duration(n) * time.Hour
			e.Message = fmt.Sprintf("the account reached its daily usage limit; retry in about %d hours", n)
		} else {
			e.Message = "the account reached its daily usage limit"
		}
		return e
	case strings.Contains(text, "Allocated quota exceeded") || strings.Contains(text, "#token-limit"):
		// Reported with code internal_error (docs/qwen-protocol.md §7).
		e.Kind, e.Message = upstream.KindQuota, "the model quota of the account is exhausted"
		return e
	case low == "internal_error":
		// Without the quota text it is a plain server error: retry, but do
		// not cool the account down for a day.
		e.Kind, e.Message = upstream.KindTransient, "internal upstream error"
	case code == "Bad_Request":
		e.Kind, e.Message = upstream.KindTransient, "transient upstream failure"
	case low == codeInvalidInput:
		// The request's own fault, not retryable: e.g. thinking off for a
		// model whose think_skip is disabled (docs/qwen-protocol.md §11.3).
		e.Kind, e.Message = upstream.KindBadRequest, "the upstream refused the request as invalid input"
	case low == "data_inspection_failed":
		e.Kind, e.Message = upstream.KindContentFilter, "the upstream content filter refused the conversation"
	case strings.Contains(code, "FAIL_SYS_USER_VALIDATE"):
		e.Kind, e.Message = upstream.KindCaptcha, "the upstream asked for a captcha (risk control)"
		e.URL = data.Get("url").String()
	case strings.Contains(low, "model") && (strings.Contains(low, "not") || strings.Contains(low, "exist")):
		e.Kind, e.Message = upstream.KindModelNotFound, "the upstream does not know the model"
	case strings.Contains(low, "auth") || strings.Contains(low, "login") || strings.Contains(low, "token_expired"):
		e.Kind, e.Message = upstream.KindUnauthorized, "the upstream rejected the token"
	case strings.Contains(low, "ratelimit") || strings.Contains(low, "rate_limit") || strings.Contains(low, "too_many"):
		e.Kind, e.Message = upstream.KindRateLimited, "the upstream is rate limiting this account"
	default:
		e.Kind, e.Message = upstream.KindTransient, "upstream error"
	}
	if detail != "" {
		e.Message += ": " + detail
	}
	return e
}

// codeInvalidInput is the upstream's code for a request it will not answer
// as sent (§11.3).
const codeInvalidInput = "invalid_input"

// snippet shortens upstream text for messages, on a character boundary.
func snippet(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return strings.ToValidUTF8(s, "?")
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.ToValidUTF8(s[:n], "?") + "…"
}

// redact guarantees that no error string carries the token.
func redact(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	ue, ok := upstream.AsError(err)
	if !ok {
		return errors.New(strings.ReplaceAll(err.Error(), token, "[redacted]"))
	}
	cp := *ue
	cp.Message = strings.ReplaceAll(cp.Message, token, "[redacted]")
	cp.URL = strings.ReplaceAll(cp.URL, token, "[redacted]")
	if cp.Err != nil && strings.Contains(cp.Err.Error(), token) {
		cp.Err = errors.New(strings.ReplaceAll(cp.Err.Error(), token, "[redacted]"))
	}
	return &cp
}
