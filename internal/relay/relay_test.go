package relay

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted answers OpenChat with one scripted outcome per call.
type scripted struct {
	mu    sync.Mutex
	calls []string // credential IDs, in order
	plan  []func() (upstream.Stream, error)
}

func (p *scripted) OpenChat(_ context.Context, cred upstream.Credential, _ *upstream.ChatRequest) (upstream.Stream, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := len(p.calls)
	p.calls = append(p.calls, cred.ID)
	if i >= len(p.plan) {
		return nil, errors.New("unplanned call")
	}
	return p.plan[i]()
}

func (p *scripted) ListModels(context.Context, upstream.Credential) ([]upstream.Model, error) {
	return nil, nil
}

func ok(text string) func() (upstream.Stream, error) {
	return func() (upstream.Stream, error) {
		return &upstream.SliceStream{Events: []upstream.Event{{Type: upstream.EventContent, Text: text}}}, nil
	}
}

func fail(kind upstream.Kind, retryAfter time.Duration) func() (upstream.Stream, error) {
	return func() (upstream.Stream, error) {
		return nil, &upstream.Error{Kind: kind, RetryAfter: retryAfter}
	}
}

func failInStream(kind upstream.Kind) func() (upstream.Stream, error) {
	return func() (upstream.Stream, error) {
		return &upstream.SliceStream{Err: &upstream.Error{Kind: kind}}, nil
	}
}

func emptyStream() (upstream.Stream, error) { return &upstream.SliceStream{}, nil }

func TestOpenRetries(t *testing.T) {
	tests := []struct {
		name      string
		tokens    int
		attempts  int
		budget    time.Duration
		plan      []func() (upstream.Stream, error)
		wantKind  upstream.Kind // KindUnknown = success
		wantCalls []string
	}{
		{"first attempt succeeds", 2, 3, 0, []func() (upstream.Stream, error){ok("hi")}, 0, []string{"token-1"}},
		{"captcha moves to another token", 2, 3, 0,
			[]func() (upstream.Stream, error){fail(upstream.KindCaptcha, 0), ok("hi")}, 0, []string{"token-1", "token-2"}},
		{"error inside the stream before the first event is retried", 2, 3, 0,
			[]func() (upstream.Stream, error){failInStream(upstream.KindTransient), ok("hi")}, 0, []string{"token-1", "token-2"}},
		{"empty answer is retried", 2, 3, 0,
			[]func() (upstream.Stream, error){emptyStream, ok("hi")}, 0, []string{"token-1", "token-2"}},
		{"content filter is not retried", 2, 3, 0,
			[]func() (upstream.Stream, error){fail(upstream.KindContentFilter, 0), ok("hi")}, upstream.KindContentFilter, []string{"token-1"}},
		{"attempts are bounded", 3, 2, 0,
			[]func() (upstream.Stream, error){fail(upstream.KindNetwork, 0), fail(upstream.KindTransient, 0), ok("hi")}, upstream.KindTransient, []string{"token-1", "token-2"}},
		{"single token is reused for transient errors", 1, 3, 0,
			[]func() (upstream.Stream, error){fail(upstream.KindTransient, 0), ok("hi")}, 0, []string{"token-1", "token-1"}},
		{"captcha is not retried on the same token", 1, 3, 0,
			[]func() (upstream.Stream, error){fail(upstream.KindCaptcha, 0), ok("hi")}, upstream.KindCaptcha, []string{"token-1"}},
		{"retry-after beyond the budget on the same token gives up at once", 1, 3, time.Second,
			[]func() (upstream.Stream, error){fail(upstream.KindRateLimited, time.Hour), ok("hi")}, upstream.KindRateLimited, []string{"token-1"}},
		{"quota on one token moves to the next without waiting", 2, 3, time.Second,
			[]func() (upstream.Stream, error){fail(upstream.KindQuota, 4*time.Hour), ok("hi")}, 0, []string{"token-1", "token-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &scripted{plan: tt.plan}
			tokens := []string{"a", "b", "c"}[:tt.tokens]
			r := New(p, Options{Attempts: tt.attempts, Budget: tt.budget, Backoff: time.Millisecond}, nil, nil)
			st, err := r.Open(context.Background(), newRotation(tokens), &upstream.ChatRequest{Model: "m"})
			if tt.wantKind == upstream.KindUnknown {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				ev, err := st.Next()
				if err != nil || ev.Text != "hi" {
					t.Fatalf("first event = %+v, %v", ev, err)
				}
				if _, err := st.Next(); err != io.EOF {
					t.Fatalf("want EOF, got %v", err)
				}
				if st.Attempts != len(tt.wantCalls) {
					t.Errorf("Attempts = %d, want %d", st.Attempts, len(tt.wantCalls))
				}
				_ = st.Close()
			} else if got := upstream.KindOf(err); got != tt.wantKind {
				t.Fatalf("error kind = %v (%v), want %v", got, err, tt.wantKind)
			}
			if len(p.calls) != len(tt.wantCalls) {
				t.Fatalf("calls = %v, want %v", p.calls, tt.wantCalls)
			}
			for i := range p.calls {
				if p.calls[i] != tt.wantCalls[i] {
					t.Fatalf("calls = %v, want %v", p.calls, tt.wantCalls)
				}
			}
		})
	}
}

func TestOpenClientGoneDuringBackoff(t *testing.T) {
	p := &scripted{plan: []func() (upstream.Stream, error){fail(upstream.KindTransient, 0), ok("hi")}}
	r := New(p, Options{Attempts: 3, Backoff: time.Hour}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err := r.Open(ctx, newRotation([]string{"a"}), &upstream.ChatRequest{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if len(p.calls) != 1 {
		t.Fatalf("calls = %v", p.calls)
	}
}

// Regression: when every credential was cooling down, the client got the
// upstream's error without the picker's (longer) Retry-After.
func TestRetryAfterFromPicker(t *testing.T) {
	p := &scripted{plan: []func() (upstream.Stream, error){fail(upstream.KindRateLimited, 0)}}
	r := New(p, Options{Attempts: 3, Backoff: time.Millisecond}, nil, nil)
	picker := &coolingPicker{}
	_, err := r.Open(context.Background(), picker, &upstream.ChatRequest{})
	ue, ok := upstream.AsError(err)
	if !ok || ue.Kind != upstream.KindRateLimited || ue.RetryAfter != time.Minute {
		t.Fatalf("got %v", err)
	}
}

// coolingPicker hands out one credential, then says all are cooling.
type coolingPicker struct{ n int }

func (c *coolingPicker) Acquire(context.Context, Want) (Lease, error) {
	c.n++
	if c.n > 1 {
		return nil, &NoCredentialError{Message: "cooling", RetryAfter: time.Minute}
	}
	return SinglePicker{Cred: upstream.Credential{ID: "x"}}.Acquire(context.Background(), Want{})
}

// rotation hands out tokens in order, preferring ones the request has not
// tried; with all tried it reuses the first (a single token is reused).
type rotation struct{ creds []upstream.Credential }

func newRotation(tokens []string) *rotation {
	r := &rotation{}
	for i, t := range tokens {
		r.creds = append(r.creds, upstream.Credential{ID: "token-" + strconv.Itoa(i+1), Token: t})
	}
	return r
}

func (r *rotation) Acquire(ctx context.Context, w Want) (Lease, error) {
	for _, c := range r.creds {
		if !w.Excludes(c.ID) && !w.Avoids(c.ID) {
			return SinglePicker{Cred: c}.Acquire(ctx, Want{})
		}
	}
	for _, c := range r.creds {
		if !w.Excludes(c.ID) {
			return SinglePicker{Cred: c}.Acquire(ctx, Want{})
		}
	}
	return nil, &NoCredentialError{Message: "all excluded"}
}

func reasoningOnly() (upstream.Stream, error) {
	return &upstream.SliceStream{Events: []upstream.Event{{Type: upstream.EventReasoning, Text: "hmm"}}}, nil
}

func cutAfter(text string, kind upstream.Kind) func() (upstream.Stream, error) {
	return func() (upstream.Stream, error) {
		return &upstream.SliceStream{Events: []upstream.Event{{Type: upstream.EventContent, Text: text}},
			Err: &upstream.Error{Kind: kind}}, nil
	}
}

// Non-stream answers are retried after a failure in the middle of the
// answer (nothing reached the client), and an answer that only reasoned
// is an empty answer, retried like one; both on a lone credential too.
func TestCompleteRetriesMidAnswer(t *testing.T) {
	tests := []struct {
		name      string
		tokens    int
		plan      []func() (upstream.Stream, error)
		want      string
		wantKind  upstream.Kind
		wantCalls []string
	}{
		{"cut stream on the only token", 1, []func() (upstream.Stream, error){cutAfter("partial", upstream.KindNetwork), ok("hi")},
			"hi", 0, []string{"token-1", "token-1"}},
		{"reasoning only moves to another token", 2, []func() (upstream.Stream, error){reasoningOnly, ok("hi")},
			"hi", 0, []string{"token-1", "token-2"}},
		{"content filter keeps the text so far", 1, []func() (upstream.Stream, error){cutAfter("so far", upstream.KindContentFilter)},
			"so far", 0, []string{"token-1"}},
		{"persistent failure ends typed", 1, []func() (upstream.Stream, error){
			cutAfter("a", upstream.KindBadResponse), cutAfter("b", upstream.KindBadResponse), cutAfter("c", upstream.KindBadResponse)},
			"", upstream.KindBadResponse, []string{"token-1", "token-1", "token-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &scripted{plan: tt.plan}
			r := New(p, Options{Attempts: 3, Backoff: time.Millisecond}, nil, nil)
			ans, err := r.Complete(context.Background(), newRotation([]string{"a", "b"}[:tt.tokens]), &upstream.ChatRequest{Model: "m"})
			if tt.wantKind != upstream.KindUnknown {
				if upstream.KindOf(err) != tt.wantKind {
					t.Fatalf("err = %v, want %v", err, tt.wantKind)
				}
			} else if err != nil || ans.Content != tt.want {
				t.Fatalf("answer %+v, err %v", ans, err)
			}
			if !slices.Equal(p.calls, tt.wantCalls) {
				t.Errorf("calls = %v, want %v", p.calls, tt.wantCalls)
			}
		})
	}
}

// A streamed answer that reasons and then ends without an answer is not a
// silent success: the stream ends with an empty-answer error.
func TestStreamReasoningOnlyEndsWithError(t *testing.T) {
	p := &scripted{plan: []func() (upstream.Stream, error){reasoningOnly}}
	r := New(p, Options{Attempts: 1}, nil, nil)
	st, err := r.Open(context.Background(), newRotation([]string{"a"}), &upstream.ChatRequest{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ev, err := st.Next(); err != nil || ev.Type != upstream.EventReasoning {
		t.Fatalf("first = %+v, %v", ev, err)
	}
	if _, err := st.Next(); upstream.KindOf(err) != upstream.KindEmpty {
		t.Fatalf("end = %v, want an empty-answer error", err)
	}
}

// Every kind has a row in the policy table, and hard failures never allow
// the same credential.
func TestPolicyTable(t *testing.T) {
	for _, k := range upstream.Kinds() {
		pol := k.Policy()
		if pol.Status == 0 {
			t.Errorf("%s: no status", k)
		}
		if pol.Class == upstream.ClassHard && pol.SameCredential {
			t.Errorf("%s: hard but same credential allowed", k)
		}
		if pol.Class == upstream.ClassSoft && (!pol.Retry || pol.Effect != upstream.EffectPenalty) {
			t.Errorf("%s: soft must retry and only penalise", k)
		}
		if pol.Class == upstream.ClassRequest && (pol.Retry || pol.Effect != upstream.EffectNone) {
			t.Errorf("%s: request failures are neither retried nor held against the account", k)
		}
	}
}

// A stream that breaks while only reasoning was sent resumes on a new
// attempt: the client gets the whole answer after the reasoning so far.
func TestStreamResumesBeforeTheAnswer(t *testing.T) {
	broken := func() (upstream.Stream, error) {
		return &upstream.SliceStream{Events: []upstream.Event{{Type: upstream.EventReasoning, Text: "hmm"}},
			Err: &upstream.Error{Kind: upstream.KindNetwork}}, nil
	}
	thinkThenAnswer := func() (upstream.Stream, error) {
		return &upstream.SliceStream{Events: []upstream.Event{{Type: upstream.EventReasoning, Text: "so"},
			{Type: upstream.EventContent, Text: "hi"}}}, nil
	}
	p := &scripted{plan: []func() (upstream.Stream, error){reasoningOnly, broken, thinkThenAnswer}}
	r := New(p, Options{Attempts: 3, Backoff: time.Millisecond}, nil, nil)
	st, err := r.Open(context.Background(), newRotation([]string{"a"}), &upstream.ChatRequest{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var reasoning, content strings.Builder
	for {
		ev, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == upstream.EventReasoning {
			reasoning.WriteString(ev.Text)
		} else {
			content.WriteString(ev.Text)
		}
	}
	if content.String() != "hi" || st.Attempts != 3 {
		t.Fatalf("content %q after %d attempts", content.String(), st.Attempts)
	}
	if want := "hmm" + retryNote + "hmm" + retryNote + "so"; reasoning.String() != want {
		t.Errorf("reasoning %q, want %q", reasoning.String(), want)
	}
}
