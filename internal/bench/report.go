package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one bench run measured; --json writes it.
type Report struct {
	StartedAt  time.Time        `json:"started_at"`
	GoVersion  string           `json:"go_version"`
	NumCPU     int              `json:"num_cpu"`
	GOMAXPROCS int              `json:"gomaxprocs"`
	NoFile     uint64           `json:"rlimit_nofile"`
	Env        *env             `json:"env,omitempty"` // nil when only faults ran
	Scenarios  []ScenarioResult `json:"scenarios"`
	RSS        *RSSResult       `json:"rss,omitempty"`
	Faults     *FaultsResult    `json:"faults,omitempty"`
	Corrupted  int              `json:"corrupted"` // over every target and scenario
}

func (r *Report) countCorrupted() int {
	n := r.Faults.wrongAnswers()
	for _, s := range r.Scenarios {
		if s.Sequential != nil {
			n += s.Sequential.corrupted()
		}
		targets := []*TargetResult{s.Direct, s.Relay}
		if s.Tools != nil {
			targets = append(targets, s.Tools.NoTools, s.Tools.Declared, s.Tools.Calls)
		}
		for _, t := range targets {
			if t != nil {
				n += t.Corrupted
			}
		}
	}
	return n
}

func (r *Report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (r *Report) writeHeader(w io.Writer) {
	fmt.Fprintf(w, "qwenrelay bench  %s  %d CPUs  GOMAXPROCS %d  RLIMIT_NOFILE %d\n",
		r.GoVersion, r.NumCPU, r.GOMAXPROCS, r.NoFile)
	if r.Env == nil {
		return
	}
	fmt.Fprintf(w, "emulator %s   relay %s\n", describe(r.Env.EmulatorURL, r.Env.EmulatorPID), describe(r.Env.RelayURL, r.Env.RelayPID))
	for _, t := range slices.Sorted(maps.Keys(r.Env.Missing)) {
		fmt.Fprintf(w, "target %s missing: %s\n", t, r.Env.Missing[t])
	}
}

func describe(url string, pid int) string {
	switch {
	case url == "":
		return "-"
	case pid > 0:
		return fmt.Sprintf("%s (pid %d)", url, pid)
	}
	return url
}

func writeScenario(w io.Writer, s ScenarioResult) {
	if s.Sequential != nil {
		writeSequential(w, s)
		return
	}
	if s.Tools != nil {
		writeTools(w, s)
		return
	}
	fmt.Fprintf(w, "\n== %s: n=%d c=%d tokens=%d delay=%s\n", s.Name, s.N, s.C, s.Tokens, s.Delay)
	if s.FirstToken != nil {
		writeFirstToken(w, s.FirstToken)
		fmt.Fprintf(w, "pass: %v\n", s.Pass)
		return
	}
	writeTargets(w, s.Direct, s.Relay)
	verdict := "FAIL"
	if s.Pass {
		verdict = "PASS"
	}
	if s.Ratio > 0 {
		fmt.Fprintf(w, "relay/direct req/s = %.3f (target >= %.2f): %s\n", s.Ratio, s.MinRatio, verdict)
	} else {
		fmt.Fprintf(w, "relay/direct req/s: n/a (target >= %.2f): %s\n", s.MinRatio, verdict)
	}
	for _, t := range []*TargetResult{s.Direct, s.Relay} {
		writeProblems(w, t)
	}
}

func writeProblems(w io.Writer, t *TargetResult) {
	if t == nil {
		return
	}
	if !t.Available {
		fmt.Fprintf(w, "  %s missing: %s\n", t.Target, t.Reason)
	}
	for _, e := range t.ErrorSamples {
		fmt.Fprintf(w, "  %s error: %s\n", t.Target, oneLine(e))
	}
	for _, c := range t.CorruptSamples {
		fmt.Fprintf(w, "  %s CORRUPTED: %s\n", t.Target, oneLine(c))
	}
}

func writeRSS(w io.Writer, r *RSSResult, s scenario) {
	fmt.Fprintf(w, "\n== rss: %d streams through the relay, tokens=%d delay=%s\n", r.Streams, s.tokens, s.delay)
	if !r.Available && r.Reason != "" {
		fmt.Fprintf(w, "not measured: %s\n", r.Reason)
		return
	}
	if r.Warning != "" {
		fmt.Fprintf(w, "warning: %s\n", r.Warning)
	}
	fmt.Fprintf(w, "opened %d/%d in %.2fs, errors %d\n", r.Opened, r.Streams, r.OpenSec, r.Errors)
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "  error: %s\n", oneLine(e))
	}
	verdict := "FAIL"
	if r.Pass {
		verdict = "PASS"
	}
	fmt.Fprintf(w, "relay pid %d VmRSS idle %.1f MB, open %.1f MB, after %.1f MB -> %.2f KB per open stream (target <= %.0f)\n",
		r.PID, mb(r.Idle.RSSKB), mb(r.Open.RSSKB), mb(r.After.RSSKB), r.PerStreamKB, r.TargetKB)
	fmt.Fprintf(w, "fds idle %d, open %d, after %d; goroutines idle %s, open %s, after %s; threads open %d\n",
		r.Idle.FDs, r.Open.FDs, r.After.FDs, count(r.GoroutinesIdle), count(r.GoroutinesOpen),
		count(r.GoroutinesAfter), r.Open.Threads)
	fmt.Fprintf(w, "released after cancel: %t: %s\n", r.Released, verdict)
}

func ms(v float64) string { return fmt.Sprintf("%.2fms", v) }

func mb(kb int64) float64 { return float64(kb) / 1024 }

func count(n int) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprint(n)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// writeTargets prints one row per target (nil targets are skipped).
func writeTargets(w io.Writer, targets ...*TargetResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tok\terrors\tcorrupt\tnot run\treq/s\tttft p50\tttft p99\ttotal p50\ttotal p99\tcpu ms/req bench+emu+relay\t")
	for _, t := range targets {
		switch {
		case t == nil:
		case !t.Available:
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", t.Target)
		default:
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%.3f+%.3f+%.3f\t\n", t.Target, t.OK, t.Errors,
				t.Corrupted, t.NotStarted, t.ReqPerSec, ms(t.TTFT.P50), ms(t.TTFT.P99), ms(t.Total.P50), ms(t.Total.P99),
				t.CPU.Bench, t.CPU.Emulator, t.CPU.Relay)
		}
	}
	_ = tw.Flush()
}
