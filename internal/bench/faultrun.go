package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// faultSlack is the soak's leak tolerance. Before both measures the bench
// closes its idle connections to the relay and the emulator closes the
// relay's idle upstream connections, so the relay should return to its
// idle values; the slack absorbs runtime noise only.
func faultSlack() slack {
	return slack{fds: 8, goroutines: 16, wait: 30 * time.Second, settle: idleWindow}
}

// idleWindow is how long the relay's idle state is read before a round;
// the lowest readings are its baseline. It is longer than the 5 s after
// which net/http's server counts a connection that never sent a request
// as idle (a pooled connection the relay dialled but did not use), so
// the emulator's closeIdle can close those too.
const idleWindow = 6 * time.Second

// settleIdle reads the relay every 250 ms for idleWindow, closing idle
// connections before each reading, and returns the lowest descriptor and
// goroutine counts seen (the warm-up's connections may still be closing).
func settleIdle(ctx context.Context, p rssProbe) (procStats, int, error) {
	deadline := time.Now().Add(idleWindow)
	p.quiesce()
	ps, err := readProc(p.pid)
	g := p.goroutines(ctx)
	for err == nil && time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, 250*time.Millisecond)
		p.quiesce()
		next, nerr := readProc(p.pid)
		if nerr != nil {
			return next, g, nerr
		}
		if next.FDs < ps.FDs {
			ps = next
		}
		if ng := p.goroutines(ctx); ng >= 0 && (g < 0 || ng < g) {
			g = ng
		}
	}
	return ps, g, err
}

// FaultsResult is what the fault soak measured.
type FaultsResult struct {
	Available        bool          `json:"available"`
	Reason           string        `json:"reason,omitempty"`
	N                int           `json:"n"`
	C                int           `json:"c"`
	Tokens           int           `json:"tokens"`
	Seed             string        `json:"seed"`
	Mix              faultMix      `json:"mix"`
	SoftKinds        []string      `json:"soft_kinds"`
	HardKinds        []string      `json:"hard_kinds"`
	FirstByteTimeout string        `json:"relay_first_byte_timeout"`
	EmulatorURL      string        `json:"emulator_url,omitempty"`
	Rounds           []*FaultRound `json:"rounds"`
	Pass             bool          `json:"pass"`
}

// wrongAnswers counts the wrong and empty successes of every round.
func (f *FaultsResult) wrongAnswers() int {
	if f == nil {
		return 0
	}
	n := 0
	for _, r := range f.Rounds {
		n += r.Wrong + r.Empty
	}
	return n
}

func kindNames(kinds []faultKind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.Name
	}
	return out
}

// soak runs the rounds of the fault soak.
type soak struct {
	o        *options
	s        scenario
	bin      string
	dir      string
	emu      *soakEmulator
	accounts []soakAccount
	answer   answerFunc
	slack    slack // leak tolerance
	stderr   io.Writer
}

// runFaults runs one round per account count of o.faultAccounts, each
// against a fresh relay child, all against one emulator served here.
func runFaults(ctx context.Context, o *options, s scenario, stderr io.Writer) *FaultsResult {
	seed := o.faultSeed
	if seed == "" {
		seed = runID()
	}
	res := &FaultsResult{
		N: s.n, C: s.c, Tokens: s.tokens, Seed: seed, Mix: defaultFaultMix,
		SoftKinds: kindNames(softKinds), HardKinds: kindNames(hardKinds),
		FirstByteTimeout: faultFirstByteTimeout.String(),
	}
	switch {
	case !o.targets["relay"]:
		res.Reason = "relay target not selected"
		return res
	case o.relayURL != "":
		res.Reason = "faults starts its own relays (one per account count); --relay-url is not used"
		return res
	}
	dir, cleanup, err := workDir(o.logDir, "faults")
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	defer cleanup()
	bin, err := relayBinary(o)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	emu, err := startSoakEmulator(o.secret, s.tokens)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	defer emu.close()
	res.Available, res.EmulatorURL = true, emu.url
	sk := &soak{o: o, s: s, bin: bin, dir: dir, emu: emu, accounts: emu.addAccounts(slices.Max(o.faultAccounts)),
		answer: expectedAnswer, slack: faultSlack(), stderr: stderr}
	for _, n := range o.faultAccounts {
		if ctx.Err() != nil {
			break
		}
		res.Rounds = append(res.Rounds, sk.round(ctx, n, fmt.Sprintf("%s-a%d", seed, n)))
	}
	res.Pass = len(res.Rounds) == len(o.faultAccounts)
	for _, r := range res.Rounds {
		res.Pass = res.Pass && r.Pass
	}
	return res
}

// round runs the soak with the first n accounts against a fresh relay.
func (sk *soak) round(ctx context.Context, n int, seed string) *FaultRound {
	r := newFaultRound(n, sk.s.n)
	defer r.finish()
	key := "bench-" + newID()
	relay, err := startSoakRelay(ctx, sk.bin, filepath.Join(sk.dir, fmt.Sprintf("accounts-%d", n)),
		sk.emu.url, key, sk.o.logLevel, sk.accounts[:n])
	if err != nil {
		fmt.Fprintf(sk.stderr, "bench: faults: %v\n", err)
		r.Reason = "relay did not start: " + firstLine(err.Error())
		return r
	}
	defer relay.stop()
	t, probeT := newTransport(sk.s.c+4), newTransport(2)
	defer t.CloseIdleConnections()
	defer probeT.CloseIdleConnections()
	c := newRelayClient(relay.url, key, t)
	// Idle connections (the bench's to the relay, the relay's to the
	// emulator) are closed before every reading of the relay's idle state.
	quiesce := func() { t.CloseIdleConnections(); sk.emu.closeIdle() }
	probe := rssProbe{pid: relay.pid(), goroutines: metricsGoroutines(relay.url, key, probeT), quiesce: quiesce}

	warm := newFaultRound(n, sk.s.c)
	sk.drive(ctx, c, planFaults(seed+"-warm", sk.s.c, faultMix{}), warm)
	if warm.Exact == 0 {
		warm.finish()
		r.Reason = fmt.Sprintf("warm-up failed: %d/%d exact; %v", warm.Exact, warm.Started, warm.ErrorSamples)
		return r
	}
	if r.Before, r.GoroutinesBefore, err = settleIdle(ctx, probe); err != nil {
		r.Reason = err.Error()
		return r
	}
	r.Available = true
	start := time.Now()
	sk.drive(ctx, c, planFaults(seed, sk.s.n, defaultFaultMix), r)
	r.ElapsedSec = roundSec(time.Since(start))
	if gone, werr := relay.exited(); gone {
		fmt.Fprintf(sk.stderr, "bench: faults: relay exited: %v\n%s", werr, relay.logTail(20))
		r.Available, r.Reason = false, fmt.Sprintf("relay exited: %v", werr)
		return r
	}
	r.After, r.GoroutinesAfter, r.Released = awaitRelease(ctx, probe, r.Before, r.GoroutinesBefore, sk.slack)
	if r.GoroutinesBefore < 0 || r.GoroutinesAfter < 0 {
		fmt.Fprintf(sk.stderr, "bench: faults: relay goroutines unknown (/metrics did not answer): leaks judged on fds only\n")
	}
	return r
}

// drive sends plan through c with sk.s.c workers until it is done or the
// scenario's time bound ends, recording every outcome in r.
func (sk *soak) drive(ctx context.Context, c *relayClient, plan []plannedRequest, r *FaultRound) {
	ctx, cancel := context.WithTimeoutCause(ctx, sk.s.timeout, errDeadline)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range sk.s.c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(plan) || ctx.Err() != nil {
					return
				}
				p := plan[i]
				text, err := c.chat(ctx, p.prompt(sk.s.tokens), p.Stream)
				if err != nil && context.Cause(ctx) != nil {
					err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
				}
				o := classify(text, err, sk.answer(p.Seed, sk.s.tokens))
				mu.Lock()
				r.add(p, o)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func roundSec(d time.Duration) float64 {
	return float64(d.Round(10*time.Millisecond)) / float64(time.Second)
}

// workDir returns the directory for children's files: logDir/sub, or a
// temporary directory removed by cleanup.
func workDir(logDir, sub string) (string, func(), error) {
	if logDir != "" {
		d := filepath.Join(logDir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", nil, fmt.Errorf("bench: %w", err)
		}
		return d, func() {}, nil
	}
	d, err := os.MkdirTemp("", "qwenrelay-bench-"+sub+"-")
	if err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	return d, func() { _ = os.RemoveAll(d) }, nil
}

// relayBinary is the qwenrelay binary started as children.
func relayBinary(o *options) (string, error) {
	if o.relayBin != "" {
		return o.relayBin, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("bench: finding the qwenrelay binary: %w", err)
	}
	return exe, nil
}
