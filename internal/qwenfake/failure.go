package qwenfake

import (
	"fmt"
	"net/http"
	"strconv"
)

// Failure is a failure mode injected into completion requests.
type Failure struct {
	Mode  string // one of the modes listed in doc.go; "" = none
	Times int    // fail this many requests, then clear; 0 = always
	After int    // content frames sent before a mid-stream failure
}

// Failure modes. Pre-stream modes answer instead of a stream; in-stream
// modes start a normal stream and break it after Failure.After content
// frames.
const (
	ModeCaptcha          = "captcha"
	ModeWAF              = "waf"
	ModeQuota            = "quota"
	ModeQuotaFrame       = "quota_frame"
	ModeHTTP429          = "http429"
	ModeHTTP401          = "http401"
	ModeHTTP403          = "http403"
	ModeHTTP500          = "http500"
	ModeHTTP502          = "http502"
	ModeBadRequest       = "bad_request"
	ModeContentFilter    = "content_filter"
	ModeContentFilterMid = "content_filter_mid"
	ModeErrorFrame       = "error_frame"
	ModeStall            = "stall"
	ModeStallMid         = "stall_mid"
	ModeCut              = "cut"
	ModeMalformed        = "malformed"
	ModeEmpty            = "empty"
	ModeThinkOnly        = "think_only"
	ModeInvalidInput     = "invalid_input"
)

// Modes lists every failure mode.
func Modes() []string {
	return []string{
		ModeCaptcha, ModeWAF, ModeQuota, ModeQuotaFrame, ModeHTTP429, ModeHTTP401, ModeHTTP403,
		ModeHTTP500, ModeHTTP502, ModeBadRequest, ModeContentFilter, ModeContentFilterMid,
		ModeErrorFrame, ModeStall, ModeStallMid, ModeCut, ModeMalformed, ModeEmpty, ModeThinkOnly,
		ModeInvalidInput,
	}
}

func knownMode(m string) bool {
	for _, k := range Modes() {
		if k == m {
			return true
		}
	}
	return false
}

// preStream reports whether mode answers instead of streaming.
func preStream(mode string) bool {
	switch mode {
	case ModeCaptcha, ModeWAF, ModeQuota, ModeHTTP429, ModeHTTP401, ModeHTTP403,
		ModeHTTP500, ModeHTTP502, ModeBadRequest, ModeContentFilter, ModeStall, ModeInvalidInput:
		return true
	}
	return false
}

// Upstream texts, as reported in docs/qwen-protocol.md §7.
const (
	captchaTmpl = `{"ret":["FAIL_SYS_USER_VALIDATE","RGV587_ERROR::SM::哎哟喂,被挤爆啦,请稍后重试"],` +
		`"data":{"url":"https://chat.qwen.ai:443//api/v2/chat/completions/_____tmd_____/punish?` +
		`x5secdata=%s&x5step=2&action=captcha&pureCaptcha="}}`
	quotaTmpl = `{"success":false,"request_id":"%s","data":{"code":"RateLimited",` +
		`"details":"You've reached the upper limit for today's usage.",` +
		`"template":"You've reached the upper limit for today's usage. Please wait {{num}} hours before trying again.","num":4}}`
	badRequestBody    = `{"success":false,"data":{"code":"Bad_Request","details":"Internal error"}}`
	contentFilterTmpl = `{"success":false,"request_id":"%s","data":{"code":"data_inspection_failed",` +
		`"details":"内容安全警告：输入数据可能包含不适当的内容！"}}`
	// DetailsInvalidToken is the Open WebUI message for a bad or expired token.
	DetailsInvalidToken = "Your session has expired or the token is invalid. Please sign in again."
	detailsForbidden    = "You do not have permission to access this resource. Please contact your administrator for assistance."

	// In-stream error frames (data: lines).
	frameQuota = `{"error":{"code":"internal_error","details":"Allocated quota exceeded, please increase your quota limit. ` +
		`For details, see https://help.aliyun.com/zh/model-studio/error-code#token-limit"}}`
	frameContentFilter = `{"error":{"code":"data_inspection_failed","details":"内容安全警告：输出内容可能包含不适当的内容！"}}`
	frameGeneric       = `{"error":{"code":"internal_error","details":"An internal error has occurred, please try again later."}}`

	http500Body = "Internal Server Error"
	http502Body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n" +
		"<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n"
)

// wafPage is an Aliyun WAF block page; clients detect it by the
// "<!doctypehtml>" prefix and the "aliyun_waf_aa" marker.
func wafPage(traceID string) []byte {
	return []byte(`<!doctypehtml><html lang="zh-CN"><head><meta charset="utf-8"><title>访问被拦截</title>` +
		`<meta name="aliyun_waf_aa" content="1"></head><body><div id="aliyun_waf_aa" class="waf-block">` +
		`<p>很抱歉，由于您访问的URL有可能对网站造成安全威胁，您的访问被阻断。</p>` +
		`<p>Sorry, your request has been blocked as it may cause potential threats to the server's security.</p>` +
		`<script>var requestInfo={"traceid":"` + traceID + `","aliyun_waf_aa":"block"};</script>` +
		`</div></body></html>`)
}

// writePreStream answers a request with a pre-stream failure mode. stall
// never returns normally: it waits for the client (or Close) and aborts.
func (s *Server) writePreStream(o *out, r *http.Request, mode string) {
	rid := newUUID()
	switch mode {
	case ModeCaptcha:
		o.json(http.StatusOK, fmt.Appendf(nil, captchaTmpl, rid[:8]+rid[9:13]+rid[14:18]))
	case ModeWAF:
		o.body(http.StatusOK, "text/html; charset=utf-8", wafPage(rid))
	case ModeQuota:
		o.json(http.StatusOK, fmt.Appendf(nil, quotaTmpl, rid))
	case ModeHTTP429:
		o.w.Header().Set("Retry-After", strconv.Itoa(7))
		o.json(http.StatusTooManyRequests, []byte(`{"detail":"Too Many Requests"}`))
	case ModeHTTP401:
		o.json(http.StatusUnauthorized, detailJSON(DetailsInvalidToken))
	case ModeHTTP403:
		o.json(http.StatusForbidden, detailJSON(detailsForbidden))
	case ModeHTTP500:
		o.body(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte(http500Body))
	case ModeHTTP502:
		o.body(http.StatusBadGateway, "text/html", []byte(http502Body))
	case ModeBadRequest:
		o.json(http.StatusOK, []byte(badRequestBody))
	case ModeContentFilter:
		o.json(http.StatusOK, fmt.Appendf(nil, contentFilterTmpl, rid))
	case ModeInvalidInput:
		o.json(http.StatusOK, fmt.Appendf(nil, errThinkingOff, rid))
	case ModeStall:
		s.waitGone(r)
		panic(http.ErrAbortHandler)
	}
}

// waitGone blocks until the client goes away or the server is closed.
func (s *Server) waitGone(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.done:
	}
}

func detailJSON(msg string) []byte {
	b := append([]byte(`{"detail":"`), appendJSONString(nil, msg, false)...)
	return append(b, `"}`...)
}

// failState holds per-account failures and per-id directive counters.
type accountFailure struct {
	f    Failure
	left int // remaining times when f.Times > 0
}

// SetAccountFailure makes the completion requests of userID fail with f.
// f.Times > 0 limits it to that many requests; the zero Failure clears it.
// It panics on an unknown mode.
func (s *Server) SetAccountFailure(userID string, f Failure) {
	if f.Mode != "" && !knownMode(f.Mode) {
		panic("qwenfake: unknown failure mode " + strconv.Quote(f.Mode))
	}
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if f.Mode == "" {
		delete(s.accountFails, userID)
		return
	}
	s.accountFails[userID] = &accountFailure{f: f, left: f.Times}
}

// pickFailure returns the failure to inject for one completion request of
// userID: the account's failure first, then the directive's.
func (s *Server) pickFailure(userID string, d *Directive) Failure {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if af := s.accountFails[userID]; af != nil {
		f := af.f
		if f.Times > 0 {
			af.left--
			if af.left <= 0 {
				delete(s.accountFails, userID)
			}
		}
		return f
	}
	if d == nil || d.Fail == "" {
		return Failure{}
	}
	if d.Times > 0 {
		n := s.idFails[d.ID]
		if n >= d.Times {
			return Failure{}
		}
		s.idFails[d.ID] = n + 1
	}
	return Failure{Mode: d.Fail, Times: d.Times, After: d.After}
}
