package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// captchaFor puts a front in front of the emulator that answers the model
// list of one token with Qwen's captcha JSON (docs/qwen-protocol.md §7),
// as the upstream does for an account under risk control; it counts the
// model-list calls.
func captchaFor(e *cliEnv, blocked string, modelCalls *atomic.Int64) {
	emuURL := e.vars["QWENRELAY_UPSTREAM_URL"]
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "models") {
			modelCalls.Add(1)
			if strings.Contains(r.Header.Get("Authorization")+r.Header.Get("Cookie"), blocked) { // Bearer or Cookie: token=
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"ret":["FAIL_SYS_USER_VALIDATE","RGV587_ERROR::SM::busy"],` +
					`"data":{"url":"https://chat.qwen.ai:443//api/v2/chat/completions/_____tmd_____/punish?x5secdata=abc&x5step=2&action=captcha"}}`))
				return
			}
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, emuURL+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	e.t.Cleanup(func() {
		proxy.CloseClientConnections()
		proxy.Close()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	e.vars["QWENRELAY_UPSTREAM_URL"] = proxy.URL
}

// TestAccountsAddBehindCaptcha: issue #6 — `accounts add` of an account
// that answers with a captcha right now stores it quarantined with its
// punish URL and says what to do; --no-check stores without any probe;
// a placeholder token is refused with --no-check.
func TestAccountsAddBehindCaptcha(t *testing.T) {
	e := newCLIEnv(t)
	blocked, clean := e.token("blocked"), e.token("clean")
	var calls atomic.Int64
	captchaFor(e, blocked, &calls)

	out := e.ok("", "accounts", "add", "--token", blocked, "--name", "blocked")
	wantContains(t, out, "added account 1, QUARANTINED", "captcha", "accounts enable 1", "captcha URL:", "punish?x5secdata=abc",
		"re-probes it by itself, first after 10m0s")
	before := calls.Load()
	out = e.ok("", "accounts", "add", "--token", clean, "--name", "unchecked", "--no-check")
	wantContains(t, out, "added account 2 (not checked upstream", "active")
	if n := calls.Load() - before; n != 0 {
		t.Errorf("--no-check made %d model-list calls, want none", n)
	}
	got := e.fail("", "accounts", "add", "--token", "eyJhbGciOi...", "--no-check")
	wantContains(t, got, "not a JWT", "--no-check")

	list := e.accounts()
	if len(list) != 2 {
		t.Fatalf("%d accounts stored, want 2", len(list))
	}
	if a := list[0]; a.State != store.StateQuarantined || !strings.Contains(a.PunishURL, "punish") || !strings.Contains(a.Reason, "captcha") {
		t.Errorf("account 1: %+v", a)
	}
	if a := list[1]; a.State != store.StateActive || len(a.Models) != 0 {
		t.Errorf("account 2: %+v, want active with models unknown", a)
	}
	// Solved in a browser: enable lifts it at once.
	e.ok("", "accounts", "enable", "1")
	if a := e.accounts()[0]; a.State != store.StateActive || a.PunishURL != "" {
		t.Errorf("after enable: %+v", a)
	}
}
