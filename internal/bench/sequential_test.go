package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// The whole scenario against two fake relay children (the test binary,
// see fakeChildMain): both are started, warmed up, measured one request at
// a time, stopped, and reported.
func TestSequentialScenarioAgainstChildren(t *testing.T) {
	checkLeaks(t)
	t.Setenv(fakeChildEnv, "serve") // inherited by the children
	r := &runner{
		o:      &options{relayBin: os.Args[0], logLevel: "info", warmup: -1, timeout: time.Minute},
		e:      &env{dir: t.TempDir(), EmulatorURL: "http://127.0.0.1:1", tokens: []string{"tok"}, Missing: map[string]string{}},
		answer: testAnswer, runID: "t", stderr: &strings.Builder{},
	}
	s := r.o.resolve("sequential")
	res := r.throughput(context.Background(), s)
	sq := res.Sequential
	if sq == nil || sq.Paced == nil || sq.Unpaced == nil {
		t.Fatalf("no sequential result: %+v", res)
	}
	for _, run := range []*SequentialRun{sq.Paced, sq.Unpaced} {
		if !run.Available || run.OK != 20 || run.Errors != 0 || run.TotalMeanMs <= 0 || run.TotalMaxMs < run.Total.P50 {
			t.Errorf("%s: %+v", run.Target, run)
		}
	}
	var out strings.Builder
	writeScenario(&out, res)
	for _, want := range []string{"== sequential: n=20 one at a time", "relay-pacing-off", "relay-default-pacing", "per request over pacing off"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSequentialJudge(t *testing.T) {
	run := func(p50, mean float64, errs int) *SequentialRun {
		r := &SequentialRun{TargetResult: TargetResult{Available: true, OK: 20 - errs, Errors: errs}, TotalMeanMs: mean}
		r.Total.P50 = p50
		return r
	}
	for _, tc := range []struct {
		name           string
		paced, unpaced *SequentialRun
		pass           bool
		addedMean      float64
	}{
		{"within target", run(5, 6, 0), run(2, 2.5, 0), true, 3.5},
		{"old pacing", run(980, 975, 0), run(2, 2.5, 0), false, 972.5},
		{"mean over target (one long wait)", run(3, 60, 0), run(2, 2.5, 0), false, 57.5},
		{"errors", run(3, 3, 1), run(2, 2.5, 0), false, 0.5},
		{"missing run", nil, run(2, 2.5, 0), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sq := &SequentialResult{Paced: tc.paced, Unpaced: tc.unpaced, TargetMs: sequentialTargetMs}
			if got := sq.judge(); got != tc.pass || sq.AddedMeanMs != tc.addedMean {
				t.Fatalf("pass %v added mean %v, want %v %v", got, sq.AddedMeanMs, tc.pass, tc.addedMean)
			}
		})
	}
}

// A relay that cannot start is reported as missing, not measured.
func TestSequentialWithoutEmulator(t *testing.T) {
	r := &runner{o: &options{warmup: -1, timeout: time.Minute}, e: &env{Missing: map[string]string{}},
		answer: testAnswer, stderr: &strings.Builder{}}
	res := r.throughput(context.Background(), defaultScenarios["sequential"])
	if res.Pass || res.Sequential.Paced.Available || !strings.Contains(res.Sequential.Paced.Reason, "no emulator") {
		t.Fatalf("%+v", res.Sequential.Paced)
	}
}
