package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// rssTargetKB is the memory budget of one open stream in the relay.
const rssTargetKB = 40

// RSSResult is what the rss scenario measured on the relay process.
type RSSResult struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
	PID       int    `json:"pid,omitempty"`

	Streams      int      `json:"streams"` // asked for
	Opened       int      `json:"opened"`  // received their first content byte
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	OpenSec      float64  `json:"open_s"` // time until all were open (or the deadline)

	Idle  procStats `json:"idle"`  // after a warm-up, before opening
	Open  procStats `json:"open"`  // while all streams are open
	After procStats `json:"after"` // after cancelling them

	// Goroutines come from the relay's /metrics (go_goroutines); -1 unknown.
	GoroutinesIdle  int `json:"goroutines_idle"`
	GoroutinesOpen  int `json:"goroutines_open"`
	GoroutinesAfter int `json:"goroutines_after"`

	PerStreamKB float64 `json:"per_stream_kb"` // (open - idle RSS) / opened
	TargetKB    float64 `json:"target_kb"`
	Released    bool    `json:"released"` // fds (and goroutines) back near idle
	Pass        bool    `json:"pass"`
	// Warning notes a condition that may spoil the measure (fd limit).
	Warning string `json:"warning,omitempty"`
}

// fdWarning says when the descriptor limit the relay inherits is too low to
// hold streams open: each needs a client and an upstream connection.
func fdWarning(nofile uint64, streams int) string {
	need := uint64(2*streams + 512)
	if nofile == 0 || nofile >= need {
		return ""
	}
	return fmt.Sprintf("RLIMIT_NOFILE %d is below the ~%d descriptors a relay needs for %d streams; "+
		"lower --streams or raise the hard limit", nofile, need, streams)
}

// rssLoad configures the rss scenario.
type rssLoad struct {
	streams int
	ramp    int // streams being opened at once
	tokens  int
	delay   time.Duration
	timeout time.Duration // bound on opening every stream
	settle  time.Duration // pause before each measure
	seed    string
	warmup  load
}

// rssProbe reads the relay process.
type rssProbe struct {
	pid        int
	goroutines func(ctx context.Context) int
	// quiesce, when set, is called before each read while waiting for the
	// relay to go idle (it closes idle connections).
	quiesce func()
}

// run opens l.streams slow streams through s, measures the relay's memory
// while they are all open, cancels them and checks the relay lets go.
func (l rssLoad) run(ctx context.Context, s streamer, probe rssProbe) RSSResult {
	res := RSSResult{Available: true, PID: probe.pid, Streams: l.streams, TargetKB: rssTargetKB}
	if w := l.warmup.run(ctx, "relay-warmup", s); w.OK == 0 {
		return fail(res, fmt.Sprintf("warm-up failed: %d errors: %v", w.Errors, w.ErrorSamples))
	}
	sleep(ctx, 2*l.settle) // let warm-up connections and buffers settle
	var err error
	if res.Idle, err = readProc(probe.pid); err != nil {
		return fail(res, err.Error())
	}
	res.GoroutinesIdle = probe.goroutines(ctx)

	streamsCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	o := l.open(streamsCtx, s)
	res.Opened, res.OpenSec = o.waitAll(ctx, l.streams, l.timeout)
	sleep(ctx, l.settle)
	res.Open, err = readProc(probe.pid)
	res.GoroutinesOpen = probe.goroutines(ctx)
	cancel()
	o.wg.Wait()
	res.Errors, res.ErrorSamples = o.errs()
	if err != nil {
		return fail(res, err.Error())
	}
	if res.Opened > 0 {
		delta := float64(res.Open.RSSKB - res.Idle.RSSKB)
		res.PerStreamKB = math.Round(delta/float64(res.Opened)*100) / 100
	}
	res.After, res.GoroutinesAfter, res.Released = awaitRelease(ctx, probe, res.Idle, res.GoroutinesIdle, rssSlack())
	res.Pass = res.Opened == l.streams && res.Errors == 0 && res.PerStreamKB <= rssTargetKB && res.Released
	return res
}

func fail(res RSSResult, reason string) RSSResult {
	res.Available, res.Reason = false, reason
	return res
}

// opener tracks the streams of one rss run.
type opener struct {
	wg      sync.WaitGroup
	opened  atomic.Int64
	failed  atomic.Int64
	mu      sync.Mutex
	samples messages
}

// open starts l.streams streams, at most l.ramp of them connecting at once.
// Each keeps reading until ctx ends.
func (l rssLoad) open(ctx context.Context, s streamer) *opener {
	o := &opener{}
	sem := make(chan struct{}, max(l.ramp, 1))
	for i := range l.streams {
		o.wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			var once sync.Once
			release := func() { once.Do(func() { <-sem }) }
			defer release()
			seed := fmt.Sprintf("%s-rss-%d", l.seed, i)
			_, err := s.stream(ctx, prompt(seed, l.tokens, l.delay), func() {
				o.opened.Add(1)
				release()
			})
			if ctx.Err() == nil { // ended before we cancelled it: an error or a too short answer
				if err == nil {
					err = fmt.Errorf("stream %s ended before it was cancelled", seed)
				}
				o.fail(err)
			}
		})
	}
	return o
}

func (o *opener) fail(err error) {
	o.failed.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.samples.add(err.Error())
}

func (o *opener) errs() (int, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return int(o.failed.Load()), o.samples.list()
}

// waitAll waits until every stream is open or failed, or the timeout; it
// returns how many were open and how long it took.
func (o *opener) waitAll(ctx context.Context, n int, timeout time.Duration) (int, float64) {
	start := time.Now()
	deadline := start.Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if int(o.opened.Load()+o.failed.Load()) >= n {
			break
		}
		sleep(ctx, 50*time.Millisecond)
	}
	return int(o.opened.Load()), math.Round(time.Since(start).Seconds()*100) / 100
}

// slack is how far above their idle values a relay's descriptors and
// goroutines may stay and still count as released, and how long they may
// take to get there. For the first settle of that time only an exact
// return to the idle values ends the wait, so connections still closing
// are not counted against the relay.
type slack struct {
	fds, goroutines int
	wait, settle    time.Duration
}

// rssSlack allows for the pools and buffers 10,000 streams leave behind.
func rssSlack() slack { return slack{fds: 32, goroutines: 64, wait: 30 * time.Second} }

// awaitRelease polls the relay for up to s.wait until its descriptors (and
// goroutines, when known) are back near their idle values.
func awaitRelease(ctx context.Context, p rssProbe, idle procStats, idleG int, s slack) (procStats, int, bool) {
	start := time.Now()
	deadline := start.Add(s.wait)
	var last procStats
	g := -1
	for {
		if p.quiesce != nil {
			p.quiesce()
		}
		ps, err := readProc(p.pid)
		if err == nil {
			last = ps
		}
		g = p.goroutines(ctx)
		fds, gs := s.fds, s.goroutines
		if time.Since(start) < s.settle {
			fds, gs = 0, 0
		}
		fdsOK := err == nil && ps.FDs <= idle.FDs+fds
		goOK := g < 0 || idleG < 0 || g <= idleG+gs
		if fdsOK && goOK {
			return last, g, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return last, g, false
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

// metricsGoroutines returns a probe reading go_goroutines from the relay's
// /metrics; it returns -1 when the endpoint does not answer.
func metricsGoroutines(base, key string, t http.RoundTripper) func(ctx context.Context) int {
	c := &http.Client{Transport: t, Timeout: 5 * time.Second}
	url := strings.TrimRight(base, "/") + "/metrics"
	return func(ctx context.Context) int {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return -1
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := c.Do(req)
		if err != nil {
			return -1
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK {
			return -1
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return -1
		}
		return parseGoroutines(body)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
