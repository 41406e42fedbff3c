package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// soakRelayHandler is a stand-in relay for the soak's client and driver:
// it answers the emulator's text for the directive's seed and tokens, and
// unless faithful, for some failure modes answers what a relay that did
// not retry might.
func soakRelayHandler(key string, faithful bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			writeJSONError(w, http.StatusUnauthorized, `{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}`)
			return
		}
		var req oaRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
			writeJSONError(w, http.StatusBadRequest, `{"error":{"message":"bad body","code":"invalid_request"}}`)
			return
		}
		d, _ := qwenfake.ParseDirective(req.Messages[len(req.Messages)-1].Content)
		if faithful {
			d.Fail = ""
		}
		answer := expectedAnswer(d.Seed, d.Tokens)
		switch d.Fail {
		case qwenfake.ModeHTTP429:
			w.Header().Set("Retry-After", "7")
			writeJSONError(w, http.StatusTooManyRequests, `{"error":{"message":"cooling","type":"rate_limit_error","code":"upstream_rate_limited"}}`)
			return
		case qwenfake.ModeHTTP502:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>502</html>"))
			return
		case qwenfake.ModeEmpty:
			answer = ""
		case qwenfake.ModeThinkOnly:
			answer = answer[:len(answer)/2]
		}
		if !req.Stream {
			b, _ := json.Marshal(map[string]any{"object": "chat.completion", "choices": []any{map[string]any{
				"index": 0, "message": map[string]any{"role": "assistant", "content": answer}, "finish_reason": "stop"}}})
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		const head = `{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{`
		writeEvent(w, head+`"role":"assistant","content":`+strconv.Quote(answer)+`},"finish_reason":null}]}`)
		switch d.Fail {
		case qwenfake.ModeCut:
			return
		case qwenfake.ModeErrorFrame:
			writeEvent(w, `{"error":{"message":"upstream failed","type":"upstream_error","code":"upstream_error"}}`)
		default:
			writeEvent(w, head+`},"finish_reason":"stop"}]}`)
		}
		writeEvent(w, "[DONE]")
	})
}

func writeJSONError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// wantSoakOutcome is what soakRelayHandler makes of a planned request.
func wantSoakOutcome(p plannedRequest) (result, string) {
	switch p.Kind.Mode {
	case qwenfake.ModeHTTP429:
		return resTyped, "HTTP 429 upstream_rate_limited"
	case qwenfake.ModeHTTP502:
		return resUntyped, "HTTP 502 without an error code"
	case qwenfake.ModeEmpty:
		return resEmpty, "empty success"
	case qwenfake.ModeThinkOnly:
		return resWrong, "wrong answer"
	}
	switch {
	case p.Stream && p.Kind.Mode == qwenfake.ModeCut:
		return resUntyped, "stream cut (no [DONE])"
	case p.Stream && p.Kind.Mode == qwenfake.ModeErrorFrame:
		return resTyped, "stream error upstream_error"
	}
	return resExact, ""
}

func TestChatClientOutcomes(t *testing.T) {
	checkLeaks(t)
	url := serve(t, soakRelayHandler("k", false)).URL
	c := newRelayClient(url, "k", transport(t, 4))
	for i, k := range append(append(slices.Clone(softKinds), hardKinds...), faultKind{Name: "clean", Class: classClean}) {
		for _, stream := range []bool{true, false} {
			p := plannedRequest{Stream: stream, Kind: k, Seed: "s" + strconv.Itoa(i), FaultID: "f" + strconv.Itoa(i)}
			t.Run(k.Name+"/"+streamWord(stream), func(t *testing.T) {
				text, err := c.chat(context.Background(), p.prompt(9), stream)
				o := classify(text, err, expectedAnswer(p.Seed, 9))
				if res, label := wantSoakOutcome(p); o.res != res || o.label != label {
					t.Errorf("outcome %d %q (%s), want %d %q", o.res, o.label, o.detail, res, label)
				}
			})
		}
	}
	bad := newRelayClient(url, "wrong", transport(t, 2))
	_, err := bad.chat(context.Background(), "hi", false)
	var se *statusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
		t.Errorf("wrong key: %v, want a typed 401", err)
	}
}

func TestParseCompletion(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		text string
		err  error
	}{
		{"ok", `{"choices":[{"message":{"content":"hé"},"finish_reason":"stop"}]}`, "hé", nil},
		{"length", `{"choices":[{"message":{"content":"h"},"finish_reason":"length"}]}`, "h", nil},
		{"no finish", `{"choices":[{"message":{"content":"h"},"finish_reason":null}]}`, "h", errNoFinish},
		{"no choices", `{"object":"list","data":[]}`, "", errNotCompletion},
		{"not JSON", `<html>`, "", errNotCompletion},
		{"truncated", `{"choices":[{"message":{"content":"h"`, "", errNotCompletion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := parseCompletion([]byte(tt.raw))
			if text != tt.text || !errors.Is(err, tt.err) {
				t.Errorf("parseCompletion = %q, %v; want %q, %v", text, err, tt.text, tt.err)
			}
		})
	}
	_, err := parseCompletion([]byte(`{"error":{"message":"m","code":"upstream_error"}}`))
	var ev *errorEvent
	if !errors.As(err, &ev) || ev.Code != "upstream_error" {
		t.Errorf("error body: %v, want an errorEvent with its code", err)
	}
}

func TestSoakDrive(t *testing.T) {
	checkLeaks(t)
	c := newRelayClient(serve(t, soakRelayHandler("k", false)).URL, "k", transport(t, 8))
	sk := &soak{s: scenario{n: 300, c: 6, tokens: 7, timeout: time.Minute}, answer: expectedAnswer}
	plan := planFaults("drive", sk.s.n, defaultFaultMix)
	r := newFaultRound(1, len(plan))
	r.Available, r.Released = true, true
	sk.drive(context.Background(), c, plan, r)
	r.finish()

	want := newFaultRound(1, len(plan))
	for _, p := range plan {
		res, label := wantSoakOutcome(p)
		want.add(p, outcome{res: res, label: label})
	}
	if r.Started != 300 || r.Exact != want.Exact || r.Typed != want.Typed || r.Untyped != want.Untyped ||
		r.Wrong != want.Wrong || r.Empty != want.Empty {
		t.Errorf("round %+v\nwant counts of %+v", r, want)
	}
	for k, n := range want.ByKind {
		if r.ByKind[k] != n {
			t.Errorf("kind %s: %+v, want %+v", k, r.ByKind[k], n)
		}
	}
	for k, n := range want.TypedByCode {
		if r.TypedByCode[k] != n {
			t.Errorf("typed %s: %d, want %d", k, r.TypedByCode[k], n)
		}
	}
	if r.Pass || r.Empty == 0 || r.ByClass[string(classClean)].Exact != r.ByClass[string(classClean)].Requests {
		t.Errorf("pass %t, empty %d, clean %+v", r.Pass, r.Empty, r.ByClass[string(classClean)])
	}
}
