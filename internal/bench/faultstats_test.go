package bench

import (
	"context"
	"fmt"
	"io"
	"testing"
)

func TestClassify(t *testing.T) {
	const want = "the answer"
	wrap := func(err error) error { return fmt.Errorf("chat/completions: %w", err) }
	tests := []struct {
		name  string
		text  string
		err   error
		res   result
		label string
	}{
		{"exact", want, nil, resExact, ""},
		{"empty success", "", nil, resEmpty, "empty success"},
		{"wrong success", "the answes", nil, resWrong, "wrong answer"},
		{"prefix only", "the", nil, resWrong, "wrong answer"},
		{"typed HTTP error", "", wrap(&statusError{Status: 429,
			Body: `{"error":{"message":"m","type":"rate_limit_error","param":null,"code":"upstream_rate_limited"}}`}),
			resTyped, "HTTP 429 upstream_rate_limited"},
		{"HTTP error without code", "", wrap(&statusError{Status: 502, Body: "<html>Bad Gateway</html>"}),
			resUntyped, "HTTP 502 without an error code"},
		{"OpenAI error with null code", "", wrap(&statusError{Status: 500, Body: `{"error":{"message":"m","code":null}}`}),
			resUntyped, "HTTP 500 without an error code"},
		{"typed stream error", "par", wrap(&errorEvent{Code: "upstream_error", Raw: `{"code":"upstream_error"}`}),
			resTyped, "stream error upstream_error"},
		{"stream error without code", "", wrap(&errorEvent{Raw: `{"message":"x"}`}), resUntyped, "stream error without a code"},
		{"cut stream", "par", wrap(errCut), resUntyped, "stream cut (no [DONE])"},
		{"no finish", want, wrap(errNoFinish), resUntyped, "no finish_reason"},
		{"not a completion", "", wrap(errNotCompletion), resUntyped, "not a chat completion"},
		{"deadline", "", fmt.Errorf("%w: %w", errDeadline, context.DeadlineExceeded), resUntyped, "client timeout"},
		{"transport", "", wrap(io.ErrUnexpectedEOF), resUntyped, "transport error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := classify(tt.text, tt.err, want)
			if o.res != tt.res || o.label != tt.label {
				t.Errorf("classify = %d %q, want %d %q", o.res, o.label, tt.res, tt.label)
			}
			if tt.res != resExact && o.detail == "" {
				t.Error("no detail for a failure")
			}
		})
	}
}

func TestFaultRoundVerdict(t *testing.T) {
	soft := plannedRequest{Kind: softKinds[0]}
	hard := plannedRequest{Kind: hardKinds[0]}
	clean := plannedRequest{Kind: faultKind{Name: "clean", Class: classClean}}
	exact := outcome{res: resExact}
	typed := outcome{res: resTyped, label: "HTTP 502 upstream_error", detail: "d"}
	tests := []struct {
		name     string
		adds     func(r *FaultRound)
		released bool
		pass     bool
	}{
		{"all exact", func(r *FaultRound) { r.add(soft, exact); r.add(hard, exact); r.add(clean, exact) }, true, true},
		{"a hard fault may fail", func(r *FaultRound) { r.add(soft, exact); r.add(hard, typed); r.add(clean, exact) }, true, true},
		{"a soft fault must not", func(r *FaultRound) { r.add(soft, typed); r.add(hard, exact); r.add(clean, exact) }, true, false},
		{"nor a clean request", func(r *FaultRound) { r.add(soft, exact); r.add(hard, exact); r.add(clean, typed) }, true, false},
		{"wrong answer", func(r *FaultRound) {
			r.add(soft, exact)
			r.add(hard, outcome{res: resWrong, label: "wrong answer", detail: "d"})
			r.add(clean, exact)
		}, true, false},
		{"empty answer", func(r *FaultRound) {
			r.add(soft, exact)
			r.add(hard, outcome{res: resEmpty, label: "empty success", detail: "d"})
			r.add(clean, exact)
		}, true, false},
		{"leak", func(r *FaultRound) { r.add(soft, exact); r.add(hard, exact); r.add(clean, exact) }, false, false},
		{"not all sent", func(r *FaultRound) { r.add(soft, exact); r.add(clean, exact) }, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFaultRound(1, 3)
			r.Available, r.Released = true, tt.released
			tt.adds(r)
			r.finish()
			if r.Pass != tt.pass {
				t.Errorf("pass = %t, want %t: %+v", r.Pass, tt.pass, r)
			}
		})
	}
	r := newFaultRound(1, 0)
	r.finish()
	if r.Pass {
		t.Error("an unavailable round passed")
	}
}

func TestFaultRoundCounts(t *testing.T) {
	r := newFaultRound(2, 8)
	r.Available, r.Released = true, true
	s0, s1 := plannedRequest{Kind: softKinds[0], Stream: true}, plannedRequest{Kind: softKinds[1]}
	for _, o := range []struct {
		p plannedRequest
		o outcome
	}{
		{s0, outcome{res: resExact}},
		{s0, outcome{res: resTyped, label: "HTTP 429 upstream_rate_limited", detail: "a"}},
		{s1, outcome{res: resTyped, label: "HTTP 429 upstream_rate_limited", detail: "a"}},
		{s1, outcome{res: resTyped, label: "stream error upstream_error", detail: "b"}},
		{s1, outcome{res: resUntyped, label: "transport error", detail: "c"}},
		{s1, outcome{res: resEmpty, label: "empty success", detail: "e"}},
	} {
		r.add(o.p, o.o)
	}
	r.finish()
	if r.Started != 6 || r.NotStarted != 2 || r.Exact != 1 || r.Typed != 3 || r.Untyped != 1 || r.Empty != 1 || r.Wrong != 0 {
		t.Errorf("counts = %+v", r)
	}
	if r.ExactShare != 0.125 || r.TypedShare != 0.375 {
		t.Errorf("shares = %v %v, want 0.125 0.375 (of 8 planned)", r.ExactShare, r.TypedShare)
	}
	if r.TypedByCode["HTTP 429 upstream_rate_limited"] != 2 || r.TypedByCode["stream error upstream_error"] != 1 ||
		r.UntypedByKind["transport error"] != 1 {
		t.Errorf("by code %v, untyped %v", r.TypedByCode, r.UntypedByKind)
	}
	if got := r.ByKind[softKinds[0].Name]; got != (ClassCount{Requests: 2, Exact: 1}) {
		t.Errorf("by kind %s = %+v", softKinds[0].Name, got)
	}
	if got := r.ByClass[string(classSoft)]; got != (ClassCount{Requests: 6, Exact: 1}) {
		t.Errorf("by class soft = %+v", got)
	}
	// Samples name the kind and stream mode, so "a" makes two of them.
	if len(r.WrongSamples) != 1 || len(r.ErrorSamples) != 4 {
		t.Errorf("samples: wrong %q errors %q", r.WrongSamples, r.ErrorSamples)
	}
}
