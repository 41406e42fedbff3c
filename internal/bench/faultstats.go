package bench

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/tidwall/gjson"
)

// result is what became of one request of the soak.
type result int

const (
	resExact   result = iota // answered, byte for byte the emulator's text
	resWrong                 // answered with another, non-empty text
	resEmpty                 // answered "successfully" with no text
	resTyped                 // an OpenAI error: HTTP status + error code, or a stream error event with a code
	resUntyped               // anything else: cut, transport failure, error without a code…
)

// outcome is one request's classified result.
type outcome struct {
	res    result
	label  string // typed: "HTTP 429 upstream_rate_limited" or "stream error upstream_error"; untyped: a category
	detail string // for samples
}

// classify judges one answer (text, err) against want, the emulator's text.
func classify(text string, err error, want string) outcome {
	if err == nil {
		switch {
		case text == want:
			return outcome{res: resExact}
		case text == "":
			return outcome{res: resEmpty, label: "empty success", detail: fmt.Sprintf("empty answer, want %d bytes", len(want))}
		}
		return outcome{res: resWrong, label: "wrong answer", detail: diff("", text, want)}
	}
	var se *statusError
	var ev *errorEvent
	switch {
	case errors.As(err, &se):
		if code := gjson.Get(se.Body, "error.code").String(); code != "" {
			return outcome{res: resTyped, label: fmt.Sprintf("HTTP %d %s", se.Status, code), detail: err.Error()}
		}
		return outcome{res: resUntyped, label: fmt.Sprintf("HTTP %d without an error code", se.Status), detail: err.Error()}
	case errors.As(err, &ev):
		if ev.Code != "" {
			return outcome{res: resTyped, label: "stream error " + ev.Code, detail: err.Error()}
		}
		return outcome{res: resUntyped, label: "stream error without a code", detail: err.Error()}
	case errors.Is(err, errCut):
		return outcome{res: resUntyped, label: "stream cut (no [DONE])", detail: err.Error()}
	case errors.Is(err, errNoFinish):
		return outcome{res: resUntyped, label: "no finish_reason", detail: err.Error()}
	case errors.Is(err, errNotCompletion):
		return outcome{res: resUntyped, label: "not a chat completion", detail: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return outcome{res: resUntyped, label: "client timeout", detail: err.Error()}
	}
	return outcome{res: resUntyped, label: "transport error", detail: err.Error()}
}

// ClassCount counts the requests of one class or kind and how many of them
// were answered exactly.
type ClassCount struct {
	Requests int `json:"requests"`
	Exact    int `json:"exact"`
}

// FaultRound is what one round of the soak (one account count) measured.
type FaultRound struct {
	Accounts  int    `json:"accounts"`
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"` // why the round was not (fully) measured

	Requests   int     `json:"requests"`    // planned
	Started    int     `json:"started"`     // sent before the round's deadline
	NotStarted int     `json:"not_started"` // never sent
	Exact      int     `json:"exact"`
	ExactShare float64 `json:"exact_share"` // of planned requests
	Typed      int     `json:"typed_errors"`
	TypedShare float64 `json:"typed_share"`
	Untyped    int     `json:"untyped_errors"`
	Wrong      int     `json:"wrong"`
	Empty      int     `json:"empty"`

	TypedByCode      map[string]int        `json:"typed_by_code,omitempty"`
	UntypedByKind    map[string]int        `json:"untyped_by_kind,omitempty"`
	ByClass          map[string]ClassCount `json:"by_class"` // clean, soft, hard
	ByKind           map[string]ClassCount `json:"by_kind"`  // fault kind (and "clean")
	ErrorSamples     []string              `json:"error_samples,omitempty"`
	WrongSamples     []string              `json:"wrong_samples,omitempty"`
	ElapsedSec       float64               `json:"elapsed_s"`
	Before           procStats             `json:"before"` // relay idle before the round
	After            procStats             `json:"after"`  // relay idle after it
	GoroutinesBefore int                   `json:"goroutines_before"`
	GoroutinesAfter  int                   `json:"goroutines_after"`
	Released         bool                  `json:"released"` // fds and goroutines back within tolerance
	Pass             bool                  `json:"pass"`

	errs, wrong messages
}

func newFaultRound(accounts, requests int) *FaultRound {
	return &FaultRound{
		Accounts: accounts, Requests: requests, NotStarted: requests,
		TypedByCode: map[string]int{}, UntypedByKind: map[string]int{},
		ByClass: map[string]ClassCount{}, ByKind: map[string]ClassCount{},
		GoroutinesBefore: -1, GoroutinesAfter: -1,
	}
}

// add records the outcome of one planned request.
func (r *FaultRound) add(p plannedRequest, o outcome) {
	r.Started++
	r.NotStarted--
	cls, kind := r.ByClass[string(p.Kind.Class)], r.ByKind[p.Kind.Name]
	cls.Requests++
	kind.Requests++
	sample := fmt.Sprintf("[%s %s] %s", p.Kind.Name, streamWord(p.Stream), o.detail)
	switch o.res {
	case resExact:
		r.Exact++
		cls.Exact++
		kind.Exact++
	case resWrong:
		r.Wrong++
		r.wrong.add(sample)
	case resEmpty:
		r.Empty++
		r.wrong.add(sample)
	case resTyped:
		r.Typed++
		r.TypedByCode[o.label]++
		r.errs.add(sample)
	case resUntyped:
		r.Untyped++
		r.UntypedByKind[o.label]++
		r.errs.add(sample)
	}
	r.ByClass[string(p.Kind.Class)], r.ByKind[p.Kind.Name] = cls, kind
}

func streamWord(stream bool) string {
	if stream {
		return "stream"
	}
	return "non-stream"
}

// finish computes the shares, keeps the samples and decides the verdict:
// every soft-faulted and every clean request answered exactly, no wrong
// or empty success, nothing left unsent, and the relay back to its idle
// descriptors and goroutines. Hard faults are reported, not judged: the
// request that meets one may fail, the ones after it must not (clean).
func (r *FaultRound) finish() {
	share := func(n int) float64 {
		if r.Requests == 0 {
			return 0
		}
		return math.Round(float64(n)/float64(r.Requests)*10000) / 10000
	}
	r.ExactShare, r.TypedShare = share(r.Exact), share(r.Typed)
	r.ErrorSamples, r.WrongSamples = r.errs.list(), r.wrong.list()
	soft, clean := r.ByClass[string(classSoft)], r.ByClass[string(classClean)]
	r.Pass = r.Available && r.NotStarted == 0 && r.Wrong == 0 && r.Empty == 0 &&
		soft.Exact == soft.Requests && clean.Exact == clean.Requests && r.Released
}
