package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// oneAccount is a relay with ONE Qwen account and the default retry
// settings, but short upstream timeouts so stalls are detected quickly.
func oneAccount(t *testing.T, users ...string) *env {
	if len(users) == 0 {
		users = []string{"alice"}
	}
	return start(t, setup{users: users, cfg: func(c *config.Config) {
		d := config.Default()
		c.RetryAttempts, c.RetryBudget, c.RetryBackoff = d.RetryAttempts, d.RetryBudget, d.RetryBackoff
		c.AccountMinInterval = d.AccountMinInterval
		c.FirstByteTimeout = 500 * time.Millisecond
		c.IdleTimeout = 500 * time.Millisecond
	}})
}

// softFaults are one-off soft failures; each must be absorbed by a retry.
// Mid-answer faults of a stream are injected while it is still reasoning
// (after=2 of 4 reasoning pieces): once answer text reached the client, a
// stream cannot be retried, but a non-stream answer always can.
var softFaults = []struct {
	name, dir string
	thinking  bool
}{
	{"empty", "fail=empty", false},
	{"think_only", "fail=think_only", true},
	{"bad_request", "fail=bad_request", false},
	{"http500", "fail=http500", false},
	{"http502", "fail=http502", false},
	{"http429", "fail=http429", false},
	{"error_frame", "fail=error_frame", false},
	{"malformed", "fail=malformed after=0", false},
	{"cut", "fail=cut after=0", false},
	{"first-byte stall", "fail=stall", false},
	{"cut while reasoning", "fail=cut after=2", true},
	{"malformed while reasoning", "fail=malformed after=2", true},
	{"error frame while reasoning", "fail=error_frame after=2", true},
	{"stall while reasoning", "fail=stall_mid after=2", true},
}

func modelFor(thinking bool) string {
	if thinking {
		return model + "-thinking"
	}
	return model
}

// Regression (issue "Never go dark"): with one account, one empty answer
// refused every request for 60 s, three 5xx for 5 minutes, and most
// one-off faults were not retried at all.
func TestOneAccountAbsorbsOneOffSoftFaults(t *testing.T) {
	for _, f := range softFaults {
		t.Run(f.name, func(t *testing.T) {
			e := oneAccount(t)
			seed := strings.ReplaceAll(f.name, " ", "-")
			text := directive(fmt.Sprintf("tokens=8 think=4 seed=%s times=1 id=%s-s %s", seed, seed, f.dir))
			r := e.stream(context.Background(), params(modelFor(f.thinking), text))
			if r.err != nil || r.content != qwenfake.AnswerText(seed, 8) {
				t.Fatalf("stream: err %v, content %q", r.err, r.content)
			}
			text = directive(fmt.Sprintf("tokens=8 think=4 seed=%s times=1 id=%s-n %s", seed, seed, f.dir))
			c, err := e.client.Chat.Completions.New(context.Background(), params(modelFor(f.thinking), text))
			if err != nil || c.Choices[0].Message.Content != qwenfake.AnswerText(seed, 8) {
				t.Fatalf("non-stream: err %v", err)
			}
			for i := range 3 {
				r := e.stream(context.Background(), params(model, directive("tokens=4 seed=next")))
				if r.err != nil || r.content != qwenfake.AnswerText("next", 4) {
					t.Fatalf("next request %d: %v %q", i, r.err, r.content)
				}
			}
		})
	}
}

// A non-stream answer is retried even after answer text arrived.
func TestNonStreamRetriedMidAnswer(t *testing.T) {
	for _, dir := range []string{"fail=cut after=3", "fail=malformed after=3", "fail=error_frame after=3", "fail=stall_mid after=3"} {
		e := oneAccount(t)
		id := strings.Fields(dir)[0][5:]
		c, err := e.client.Chat.Completions.New(context.Background(), params(model, directive("tokens=8 seed=m times=1 id="+id+" "+dir)))
		if err != nil || c.Choices[0].Message.Content != qwenfake.AnswerText("m", 8) {
			t.Fatalf("%s: %v", dir, err)
		}
	}
}

// A persistent soft fault ends in a typed 5xx, and never takes the only
// account out: the next normal request is served.
func TestPersistentSoftFaultThenServed(t *testing.T) {
	for _, f := range []struct{ dir, code string }{
		{"fail=empty", "upstream_empty_answer"}, {"fail=http500", "upstream_error"}, {"fail=bad_request", "upstream_error"},
		{"fail=cut after=0", "upstream_unreachable"}, {"fail=stall", "upstream_timeout"},
	} {
		e := oneAccount(t)
		_, err := e.client.Chat.Completions.New(context.Background(), params(model, directive("tokens=4 "+f.dir)))
		ae := apiErr(t, err)
		if ae.StatusCode < 500 || ae.Code != f.code {
			t.Fatalf("%s: %d %s", f.dir, ae.StatusCode, ae.Code)
		}
		for range 2 {
			if _, err := e.client.Chat.Completions.New(context.Background(), params(model, "hi")); err != nil {
				t.Fatalf("%s: next request refused: %v", f.dir, err)
			}
		}
	}
}

// The daily quota is hard: 429 with a Retry-After in hours, for the next
// request too.
func TestDailyQuotaOneAccount(t *testing.T) {
	e := oneAccount(t)
	for i, content := range []string{directive("fail=quota"), "hi"} {
		resp := e.rawChat(content)
		resp.Body.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "14400" {
			t.Fatalf("request %d: %d Retry-After %q", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
}

// Two accounts: a burst of soft faults that penalises both still serves,
// and nothing is refused afterwards.
func TestBurstOfSoftFaultsPenalisesBothAndServes(t *testing.T) {
	e := oneAccount(t, "alice", "bob")
	modes := []string{"empty", "http500", "bad_request", "error_frame", "http502", "cut after=0"}
	for i := range 12 {
		mode := modes[i%len(modes)]
		seed := fmt.Sprintf("b%d", i)
		c, err := e.client.Chat.Completions.New(context.Background(),
			params(model, directive(fmt.Sprintf("tokens=4 seed=%s times=2 id=burst-%d fail=%s", seed, i, mode))))
		if err != nil || c.Choices[0].Message.Content != qwenfake.AnswerText(seed, 4) {
			t.Fatalf("request %d (%s, failing twice): %v", i, mode, err)
		}
	}
	for _, name := range []string{"alice", "bob"} {
		if e.emu.Account(name).Requests == 0 {
			t.Errorf("%s never served", name)
		}
	}
	var cs []openai.ChatCompletion
	for range 4 {
		c, err := e.client.Chat.Completions.New(context.Background(), params(model, "hi"))
		if err != nil {
			t.Fatalf("after the burst: %v", err)
		}
		cs = append(cs, *c)
	}
	if len(cs) != 4 {
		t.Fatal("not all served")
	}
}
