package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"
)

// The sequential scenario measures what per-account pacing costs a lone
// user: one account, requests one after the other (no concurrency), through
// a relay with the default pacing and through one with pacing off, each
// started here on the bench's emulator. The difference per request is what
// pacing adds; the target is sequentialTargetMs.
const sequentialTargetMs = 10

// SequentialResult compares the two relays of the sequential scenario.
type SequentialResult struct {
	Paced   *SequentialRun `json:"default_pacing"`
	Unpaced *SequentialRun `json:"pacing_off"`
	// Added latency per request of the default pacing over pacing off.
	AddedP50Ms  float64 `json:"added_p50_ms"`
	AddedMeanMs float64 `json:"added_mean_ms"`
	TargetMs    float64 `json:"target_ms"`
}

// SequentialRun is one relay's run: the usual target result plus the mean
// and maximum request time (the percentiles alone hide a wait now and then).
type SequentialRun struct {
	TargetResult
	TotalMeanMs float64 `json:"total_mean_ms"`
	TotalMaxMs  float64 `json:"total_max_ms"`
}

func (s *SequentialResult) corrupted() int {
	n := 0
	for _, r := range []*SequentialRun{s.Paced, s.Unpaced} {
		if r != nil {
			n += r.Corrupted
		}
	}
	return n
}

// sequential runs the scenario: the pacing-off relay first, then the one
// with the default pacing, each on the bench's first Qwen token only.
func (r *runner) sequential(ctx context.Context, s scenario) ScenarioResult {
	res := ScenarioResult{Name: s.name, N: s.n, C: 1, Tokens: s.tokens, Delay: s.delay.String(),
		Sequential: &SequentialResult{TargetMs: sequentialTargetMs}}
	l := r.load(s)
	l.c = 1
	sq := res.Sequential
	sq.Unpaced = r.sequentialRun(ctx, l, "relay-pacing-off", []string{"QWENRELAY_ACCOUNT_MIN_INTERVAL=0s"})
	sq.Paced = r.sequentialRun(ctx, l, "relay-default-pacing", nil)
	res.Pass = sq.judge()
	return res
}

// judge sets the added latencies and says whether the scenario passes:
// both runs complete and clean, and pacing adds at most the target per
// request, at the median and on average.
func (sq *SequentialResult) judge() bool {
	p, u := sq.Paced, sq.Unpaced
	if p == nil || u == nil || !p.Available || !u.Available || p.OK == 0 || u.OK == 0 {
		return false
	}
	sq.AddedP50Ms = round3(p.Total.P50 - u.Total.P50)
	sq.AddedMeanMs = round3(p.TotalMeanMs - u.TotalMeanMs)
	return p.Errors+u.Errors+p.Corrupted+u.Corrupted+p.NotStarted+u.NotStarted == 0 &&
		sq.AddedP50Ms <= sq.TargetMs && sq.AddedMeanMs <= sq.TargetMs
}

// sequentialRun starts a relay named name on the bench's emulator with one
// account and the given extra settings, warms it up, measures l one
// request at a time, and stops it.
func (r *runner) sequentialRun(ctx context.Context, l load, name string, extra []string) *SequentialRun {
	out := &SequentialRun{TargetResult: TargetResult{Target: name, Requests: l.n}}
	bin, err := r.childBin()
	switch {
	case r.e.EmulatorURL == "":
		out.Reason = "no emulator (give --emulator-url with --relay-url)"
	case len(r.e.tokens) == 0:
		out.Reason = "no Qwen token"
	case err != nil:
		out.Reason = err.Error()
	}
	if out.Reason != "" {
		return out
	}
	key := "bench-" + newID()
	c, err := startChild(ctx, childSpec{
		name: name, bin: bin, dir: r.e.dir,
		args: []string{"serve", "--listen", "127.0.0.1:0"},
		env: append([]string{
			"QWENRELAY_UPSTREAM_URL=" + r.e.EmulatorURL,
			"QWENRELAY_QWEN_TOKENS=" + r.e.tokens[0],
			"QWENRELAY_API_KEY=" + key,
			"QWENRELAY_DATA_DIR=" + filepath.Join(r.e.dir, name+"-data"),
			"QWENRELAY_LOG_LEVEL=" + r.o.logLevel,
		}, extra...),
	})
	if err != nil {
		fmt.Fprintf(r.stderr, "bench: %v\n", err)
		out.Reason = "relay did not start: " + firstLine(err.Error())
		return out
	}
	defer c.stop()
	t := newTransport(4)
	defer t.CloseIdleConnections()
	st := newRelayClient(c.url, key, t)
	for i := range l.warm {
		if smp := l.one(ctx, st, fmt.Sprintf("%s-%s-warm-%d", l.seed, name, i)); smp.err != nil {
			fmt.Fprintf(r.stderr, "bench: %s warm-up: %s\n", name, oneLine(smp.err.Error()))
		}
	}
	samples, elapsed := l.oneByOne(ctx, st, name)
	*out = sequentialSummary(name, l.n, samples, elapsed)
	if gone, err := c.exited(); gone {
		fmt.Fprintf(r.stderr, "bench: %s exited: %v\n%s", name, err, c.logTail(20))
	}
	return out
}

// oneByOne sends l.n requests one after the other, within l.timeout.
func (l load) oneByOne(ctx context.Context, s streamer, name string) ([]sample, time.Duration) {
	ctx, cancel := context.WithTimeoutCause(ctx, l.timeout, errDeadline)
	defer cancel()
	samples := make([]sample, 0, l.n)
	start := time.Now()
	for i := 0; i < l.n && ctx.Err() == nil; i++ {
		samples = append(samples, l.one(ctx, s, fmt.Sprintf("%s-%s-%d", l.seed, name, i)))
	}
	return samples, time.Since(start)
}

// sequentialSummary adds the mean and maximum request time of the good
// samples to the usual summary.
func sequentialSummary(name string, n int, samples []sample, elapsed time.Duration) SequentialRun {
	out := SequentialRun{TargetResult: summarize(name, n, samples, elapsed)}
	var total []time.Duration
	for _, s := range samples {
		if s.err == nil && s.corrupt == "" {
			total = append(total, s.total)
		}
	}
	if len(total) > 0 {
		var sum time.Duration
		for _, d := range total {
			sum += d
		}
		out.TotalMeanMs = millis(sum / time.Duration(len(total)))
		out.TotalMaxMs = millis(slices.Max(total))
	}
	return out
}

// childBin is the binary the bench starts its children from.
func (r *runner) childBin() (string, error) {
	if r.o.relayBin != "" {
		return r.o.relayBin, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the qwenrelay binary: %w", err)
	}
	return exe, nil
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func writeSequential(w io.Writer, s ScenarioResult) {
	sq := s.Sequential
	fmt.Fprintf(w, "\n== %s: n=%d one at a time, one account, tokens=%d delay=%s\n", s.Name, s.N, s.Tokens, s.Delay)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "relay\tok\terrors\tcorrupt\tnot run\tttft p50\ttotal p50\ttotal mean\ttotal max\t")
	for _, r := range []*SequentialRun{sq.Unpaced, sq.Paced} {
		if r == nil || !r.Available {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", r.Target, r.OK, r.Errors, r.Corrupted, r.NotStarted,
			ms(r.TTFT.P50), ms(r.Total.P50), ms(r.TotalMeanMs), ms(r.TotalMaxMs))
	}
	_ = tw.Flush()
	verdict := "FAIL"
	if s.Pass {
		verdict = "PASS"
	}
	fmt.Fprintf(w, "default pacing adds %s p50, %s mean per request over pacing off (target <= %.0fms): %s\n",
		ms(sq.AddedP50Ms), ms(sq.AddedMeanMs), sq.TargetMs, verdict)
	for _, r := range []*SequentialRun{sq.Unpaced, sq.Paced} {
		if r != nil {
			writeProblems(w, &r.TargetResult)
		}
	}
}
