package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// answerFunc returns the exact answer the emulator streams for a seed and a
// token count (qwenfake.AnswerText).
type answerFunc func(seed string, tokens int) string

// load is one closed-loop run: n requests by a fixed pool of c workers,
// each request asking for tokens tokens with delay between frames.
type load struct {
	n, c    int
	tokens  int
	delay   time.Duration
	timeout time.Duration // wall-time bound of the whole run
	warm    int           // unmeasured requests sent first (by the caller)
	seed    string        // prefix making every request's seed unique
	answer  answerFunc
}

// errDeadline marks requests cut by the run's wall-time bound.
var errDeadline = errors.New("run deadline reached")

// run drives l against s and summarizes it under the name target. It stops
// after n requests or at the deadline, whichever comes first; requests in
// flight at the deadline count as errors, the ones never sent as not started.
func (l load) run(ctx context.Context, target string, s streamer) TargetResult {
	ctx, cancel := context.WithTimeoutCause(ctx, l.timeout, errDeadline)
	defer cancel()
	var next atomic.Int64
	perWorker := make([][]sample, l.c)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range l.c {
		wg.Go(func() {
			local := make([]sample, 0, l.n/l.c+1)
			for {
				i := int(next.Add(1) - 1)
				if i >= l.n || ctx.Err() != nil {
					break
				}
				local = append(local, l.one(ctx, s, fmt.Sprintf("%s-%s-%d", l.seed, target, i)))
			}
			perWorker[w] = local
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := make([]sample, 0, l.n)
	for _, p := range perWorker {
		all = append(all, p...)
	}
	return summarize(target, l.n, all, elapsed)
}

// one sends one request and checks its answer.
func (l load) one(ctx context.Context, s streamer, seed string) sample {
	var out sample
	start := time.Now()
	text, err := s.stream(ctx, prompt(seed, l.tokens, l.delay), func() { out.ttft = time.Since(start) })
	out.total = time.Since(start)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		out.err = err
		return out
	}
	if want := l.answer(seed, l.tokens); text != want {
		out.corrupt = diff(seed, text, want)
	}
	return out
}
