// Package bench is qwenrelay's load tool ("qwenrelay bench"). It starts the
// emulator and the relay as child processes (or uses running ones), then
// drives each scenario twice: straight at the emulator in the Qwen v2 web
// protocol ("direct") and through the relay in the OpenAI protocol
// ("relay"), checking every reassembled answer against the text the
// emulator was told to stream. It reports throughput, time to first token,
// latency, errors and corrupted answers per target, the relay/direct
// throughput ratio, and (scenario rss) the relay's memory per open stream.
// Scenario faults (run only when named) soaks the relay with one-off
// upstream failures, with 1, 2 and 5 accounts, and checks that it answers
// through them and leaks nothing (faults.go).
//
// The bench only ever connects to loopback addresses.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

// ErrCorrupted is returned when any answer differed from the expected text.
var ErrCorrupted = errors.New("bench: corrupted answers")

// Main runs the bench with args (flags, without the program and subcommand
// names). It writes the report to stdout and diagnostics to stderr. It fails
// on bad flags, on a setup failure, when no target at all could be
// measured, and when any answer was corrupted; missing targets and missed
// performance targets are reported, not returned.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	nofile, err := raiseNoFile()
	if err != nil {
		fmt.Fprintf(stderr, "bench: warning: %v (RLIMIT_NOFILE stays %d)\n", err, nofile)
	}
	rep := &Report{
		StartedAt: time.Now().UTC(), GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), NoFile: nofile,
	}
	shared := slices.DeleteFunc(slices.Clone(o.scenarios), func(s string) bool { return o.resolve(s).faults })
	if len(shared) > 0 {
		if err := runShared(ctx, o, shared, rep, stdout, stderr); err != nil {
			return err
		}
	} else {
		rep.writeHeader(stdout)
	}
	if len(shared) < len(o.scenarios) && ctx.Err() == nil {
		s := o.resolve("faults")
		rep.Faults = runFaults(ctx, o, s, stderr)
		writeFaults(stdout, rep.Faults)
	}
	rep.Corrupted = rep.countCorrupted()
	if o.jsonPath != "" {
		if err := rep.writeJSON(o.jsonPath); err != nil {
			return fmt.Errorf("bench: writing %s: %w", o.jsonPath, err)
		}
	}
	if rep.Corrupted > 0 {
		return fmt.Errorf("%w: %d", ErrCorrupted, rep.Corrupted)
	}
	return ctx.Err()
}

// runShared runs the scenarios that share one emulator and one relay
// (fast, slow, rss), started here or given by URL.
func runShared(ctx context.Context, o *options, names []string, rep *Report, stdout, stderr io.Writer) error {
	e, err := setup(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer e.close()
	if len(e.Missing) == len(o.targets) {
		return fmt.Errorf("bench: setup failed: no target can be measured: %v (logs in %s)", e.Missing, e.dir)
	}
	rep.Env = e
	rep.writeHeader(stdout)
	r := &runner{o: o, e: e, answer: expectedAnswer, runID: runID(), nofile: rep.NoFile, stderr: stderr}
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		s := o.resolve(name)
		if s.rssStream {
			rep.RSS = r.rss(ctx, s)
			writeRSS(stdout, rep.RSS, s)
			continue
		}
		res := r.throughput(ctx, s)
		rep.Scenarios = append(rep.Scenarios, res)
		writeScenario(stdout, res)
	}
	return nil
}

// runID is a short random prefix for seeds, unique per run.
func runID() string { return newID()[:8] }
