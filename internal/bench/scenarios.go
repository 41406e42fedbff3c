package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// scenario is a throughput comparison of the relay with the emulator.
type scenario struct {
	name      string
	n, c      int
	tokens    int
	delay     time.Duration
	minRatio  float64 // relay/direct req/s needed to pass
	zeroErrs  bool    // errors fail the scenario
	rssStream bool    // the rss scenario (memory, not throughput)
	seq       bool    // the sequential scenario (pacing cost, sequential.go)
	faults    bool    // the fault soak (relay only, its own emulator and relays)
	firstTok  bool    // the firsttoken scenario (firsttoken.go)
	tools     bool    // the tools scenario (relay only, with and without tools, tools.go)
	// timeout bounds one run (one target, or one soak round); 0 = --timeout.
	timeout time.Duration
}

var defaultScenarios = map[string]scenario{
	"fast": {name: "fast", n: 5000, c: 50, tokens: 64, minRatio: 0.70},
	"slow": {name: "slow", n: 2000, c: 500, tokens: 64, delay: 20 * time.Millisecond, minRatio: 0.95, zeroErrs: true},
	"rss":  {name: "rss", tokens: 1000, delay: time.Second, rssStream: true},

	"sequential": {name: "sequential", n: 20, c: 1, tokens: 16, seq: true},
	"firsttoken": {name: "firsttoken", n: 160, c: 2, tokens: 16, delay: 20 * time.Millisecond, firstTok: true},
	// Three rounds (1, 2, 5 accounts) must fit in about three minutes.
	"faults": {name: "faults", n: 2000, c: 20, tokens: 32, faults: true, timeout: 55 * time.Second},
	"tools":  {name: "tools", n: 3000, c: 50, tokens: 64, minRatio: 0.80, tools: true},
}

// ScenarioResult is one throughput scenario's outcome.
type ScenarioResult struct {
	Name     string        `json:"name"`
	N        int           `json:"n"`
	C        int           `json:"c"`
	Tokens   int           `json:"tokens"`
	Delay    string        `json:"delay"`
	Direct   *TargetResult `json:"direct,omitempty"`
	Relay    *TargetResult `json:"relay,omitempty"`
	Ratio    float64       `json:"relay_direct_ratio"` // 0 when a side is missing
	MinRatio float64       `json:"min_ratio"`
	Pass     bool          `json:"pass"`

	Sequential *SequentialResult `json:"sequential,omitempty"` // the sequential scenario instead of Direct and Relay
	// FirstToken holds the firsttoken scenario's runs and chat counts.
	FirstToken *FirstTokenResult `json:"first_token,omitempty"`
	Tools      *ToolsResult      `json:"tools,omitempty"` // the tools scenario instead of Direct and Relay
}

// resolve applies the command-line overrides to a scenario.
func (o *options) resolve(name string) scenario {
	s := defaultScenarios[name]
	if o.setN {
		s.n = o.n
	}
	if o.setC {
		s.c = o.c
	}
	if o.setTokens {
		s.tokens = o.tokens
	}
	if o.setDelay {
		s.delay = o.delay
	}
	if o.setTimeout || s.timeout == 0 {
		s.timeout = o.timeout
	}
	return s
}

// runner runs scenarios against an env.
type runner struct {
	o      *options
	e      *env
	answer answerFunc
	runID  string // makes seeds unique across runs too
	nofile uint64 // the bench's RLIMIT_NOFILE, inherited by its children
	stderr io.Writer
}

func (r *runner) load(s scenario) load {
	warm := r.o.warmup
	if warm < 0 {
		warm = 2 * s.c
	}
	return load{
		n: s.n, c: s.c, tokens: s.tokens, delay: s.delay, timeout: s.timeout, warm: warm,
		seed: r.runID + "-" + s.name, answer: r.answer,
	}
}

// throughput runs a scenario against each target in turn.
func (r *runner) throughput(ctx context.Context, s scenario) ScenarioResult {
	if s.seq {
		return r.sequential(ctx, s)
	}
	if s.firstTok {
		return r.firstToken(ctx, s)
	}
	if s.tools {
		return r.tools(ctx, s)
	}
	res := ScenarioResult{Name: s.name, N: s.n, C: s.c, Tokens: s.tokens, Delay: s.delay.String(), MinRatio: s.minRatio}
	l := r.load(s)
	if r.o.targets["direct"] {
		res.Direct = r.runTarget(ctx, "direct", l, func(t http.RoundTripper) streamer {
			return newDirectClient(r.e.EmulatorURL, r.e.tokens, t)
		})
	}
	if r.o.targets["relay"] {
		res.Relay = r.runTarget(ctx, "relay", l, func(t http.RoundTripper) streamer {
			return newRelayClient(r.e.RelayURL, r.e.apiKey, t)
		})
	}
	res.Ratio = ratio(res.Relay, res.Direct)
	res.Pass = res.Ratio >= s.minRatio && clean(res.Direct, false) && clean(res.Relay, s.zeroErrs)
	return res
}

// clean says whether a target result allows the scenario to pass.
func clean(t *TargetResult, zeroErrs bool) bool {
	if t == nil || !t.Available {
		return false
	}
	return t.Corrupted == 0 && t.NotStarted == 0 && (!zeroErrs || t.Errors == 0)
}

// runTarget warms up, then measures one target through a transport of its
// own (built like every other one); a missing target is reported as such.
func (r *runner) runTarget(ctx context.Context, target string, l load, mk func(http.RoundTripper) streamer) *TargetResult {
	r.e.checkAlive(r.stderr)
	if reason := r.e.Missing[target]; reason != "" {
		return &TargetResult{Target: target, Requests: l.n, Reason: reason}
	}
	if ctx.Err() != nil {
		return &TargetResult{Target: target, Requests: l.n, Reason: "not run: " + context.Cause(ctx).Error()}
	}
	t := newTransport(l.c + 16)
	defer t.CloseIdleConnections()
	s := mk(t)
	if l.warm > 0 {
		w := l
		w.n, w.seed = l.warm, l.seed+"-warm"
		if wr := w.run(ctx, target, s); wr.OK == 0 && len(wr.ErrorSamples) > 0 {
			fmt.Fprintf(r.stderr, "bench: %s warm-up: %d/%d ok; first error: %s\n", target, wr.OK, wr.Started,
				oneLine(wr.ErrorSamples[0]))
		}
	}
	relayPID := 0
	if target == "relay" {
		relayPID = r.e.RelayPID
	}
	cpu := startCPU(r.e.EmulatorPID, relayPID)
	res := l.run(ctx, target, s)
	res.CPU = cpu.perRequest(res.OK)
	r.e.checkAlive(r.stderr)
	return &res
}

// rss runs the memory scenario against the relay.
func (r *runner) rss(ctx context.Context, s scenario) *RSSResult {
	res := &RSSResult{Streams: r.o.streams, TargetKB: rssTargetKB}
	warning := ""
	if r.e.relay != nil { // a child inherits the bench's limit
		warning = fdWarning(r.nofile, r.o.streams)
	}
	r.e.checkAlive(r.stderr)
	switch {
	case !r.o.targets["relay"]:
		res.Reason = "relay target not selected"
		return res
	case r.e.Missing["relay"] != "":
		res.Reason = r.e.Missing["relay"]
		return res
	case r.e.RelayPID == 0:
		res.Reason = errNoPID.Error()
		return res
	}
	t := newTransport(64)
	defer t.CloseIdleConnections()
	warm := load{n: 500, c: 50, tokens: 16, timeout: time.Minute, seed: r.runID + "-rss-warm", answer: r.answer}
	l := rssLoad{
		streams: r.o.streams, ramp: r.o.ramp, tokens: s.tokens, delay: s.delay,
		timeout: r.o.rssTimeout, settle: time.Second, seed: r.runID + "-rss", warmup: warm,
	}
	probe := rssProbe{pid: r.e.RelayPID, goroutines: metricsGoroutines(r.e.RelayURL, r.e.apiKey, newTransport(2))}
	if warning != "" {
		fmt.Fprintf(r.stderr, "bench: warning: %s\n", warning)
	}
	out := l.run(ctx, newRelayClient(r.e.RelayURL, r.e.apiKey, t), probe)
	out.Warning = warning
	r.e.checkAlive(r.stderr)
	return &out
}
