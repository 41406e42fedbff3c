package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// maxSamples bounds how many error and corruption messages a run keeps.
const maxSamples = 5

// sample is the outcome of one request.
type sample struct {
	ttft    time.Duration // zero when no content byte arrived
	total   time.Duration
	err     error
	corrupt string // non-empty when the answer differed from the expected text
}

// Latency holds two percentiles of one measure, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
}

// TargetResult is what one run against one target measured.
type TargetResult struct {
	Target    string `json:"target"`
	Available bool   `json:"available"`
	// Reason says why an unavailable target was not measured.
	Reason string `json:"reason,omitempty"`

	Requests   int `json:"requests"`    // asked for
	Started    int `json:"started"`     // sent (the rest was cut by the deadline)
	OK         int `json:"ok"`          // complete and correct
	Errors     int `json:"errors"`      // failed or cut streams
	Corrupted  int `json:"corrupted"`   // complete but different from the expected answer
	NotStarted int `json:"not_started"` // never sent: the run's deadline came first

	ErrorSamples   []string `json:"error_samples,omitempty"`
	CorruptSamples []string `json:"corrupt_samples,omitempty"`

	ElapsedSec float64 `json:"elapsed_s"`
	ReqPerSec  float64 `json:"req_per_s"` // OK / elapsed
	TTFT       Latency `json:"ttft"`
	Total      Latency `json:"total"`
	// CPU is what each local process spent per successful request (from
	// /proc; only for processes whose pid is known).
	CPU CPUPerRequest `json:"cpu_per_request"`
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method; zero for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// latencyOf sorts ds in place and returns its p50 and p99.
func latencyOf(ds []time.Duration) Latency {
	slices.Sort(ds)
	return Latency{P50: millis(percentile(ds, 50)), P99: millis(percentile(ds, 99))}
}

// summarize folds the samples of one run. requests is how many were asked
// for; elapsed is the run's wall time. Latencies count successful,
// uncorrupted requests only, so failures that return early cannot flatter them.
func summarize(target string, requests int, samples []sample, elapsed time.Duration) TargetResult {
	r := TargetResult{
		Target:     target,
		Available:  true,
		Requests:   requests,
		Started:    len(samples),
		NotStarted: requests - len(samples),
		ElapsedSec: math.Round(elapsed.Seconds()*1000) / 1000,
	}
	ttft := make([]time.Duration, 0, len(samples))
	total := make([]time.Duration, 0, len(samples))
	var errs, corrupt messages
	for _, s := range samples {
		switch {
		case s.err != nil:
			r.Errors++
			errs.add(s.err.Error())
		case s.corrupt != "":
			r.Corrupted++
			corrupt.add(s.corrupt)
		default:
			r.OK++
			ttft = append(ttft, s.ttft)
			total = append(total, s.total)
		}
	}
	if elapsed > 0 {
		r.ReqPerSec = math.Round(float64(r.OK)/elapsed.Seconds()*10) / 10
	}
	r.ErrorSamples, r.CorruptSamples = errs.list(), corrupt.list()
	r.TTFT = latencyOf(ttft)
	r.Total = latencyOf(total)
	return r
}

// messages keeps the first maxSamples distinct messages and how often each
// occurred.
type messages struct {
	text  []string
	count []int
}

func (m *messages) add(msg string) {
	for i, t := range m.text {
		if t == msg {
			m.count[i]++
			return
		}
	}
	if len(m.text) < maxSamples {
		m.text = append(m.text, msg)
		m.count = append(m.count, 1)
	}
}

// list returns the messages, each repeated one suffixed with its count.
func (m *messages) list() []string {
	out := make([]string, len(m.text))
	for i, t := range m.text {
		out[i] = t
		if m.count[i] > 1 {
			out[i] = fmt.Sprintf("%s (x%d)", t, m.count[i])
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ratio is relay/direct throughput, or zero when either side is missing.
func ratio(relay, direct *TargetResult) float64 {
	if relay == nil || direct == nil || !relay.Available || !direct.Available || direct.ReqPerSec == 0 {
		return 0
	}
	return math.Round(relay.ReqPerSec/direct.ReqPerSec*1000) / 1000
}

// diff describes where got first differs from want, for a corruption report.
func diff(seed, got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	snip := func(s string) string { return s[i:min(i+24, len(s))] }
	return fmt.Sprintf("seed %s: answer differs at byte %d (got %d bytes %q…, want %d bytes %q…)",
		seed, i, len(got), snip(got), len(want), snip(want))
}
