package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

func TestPlanFaultsMix(t *testing.T) {
	tests := []struct {
		n                 int
		soft, hard, clean int
	}{
		{n: 0},
		{n: 1, clean: 1},
		{n: 7, soft: 1, clean: 6},
		{n: 50, soft: 5, hard: 1, clean: 44}, // 0.5 rounds up
		{n: 2000, soft: 200, hard: 20, clean: 1780},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			plan := planFaults("s", tt.n, defaultFaultMix)
			if len(plan) != tt.n {
				t.Fatalf("len = %d, want %d", len(plan), tt.n)
			}
			byClass := map[faultClass]int{}
			seeds, ids := map[string]bool{}, map[string]bool{}
			for _, p := range plan {
				byClass[p.Kind.Class]++
				if seeds[p.Seed] || (p.FaultID != "" && ids[p.FaultID]) {
					t.Fatalf("seed %q or id %q used twice", p.Seed, p.FaultID)
				}
				seeds[p.Seed], ids[p.FaultID] = true, true
				if (p.FaultID == "") != (p.Kind.Class == classClean) {
					t.Errorf("%+v: a fault id goes with a fault, and only then", p)
				}
			}
			if byClass[classSoft] != tt.soft || byClass[classHard] != tt.hard || byClass[classClean] != tt.clean {
				t.Errorf("soft/hard/clean = %d/%d/%d, want %d/%d/%d", byClass[classSoft], byClass[classHard],
					byClass[classClean], tt.soft, tt.hard, tt.clean)
			}
		})
	}
}

func TestPlanFaultsEveryKindBothWays(t *testing.T) {
	plan := planFaults("s", 2000, defaultFaultMix)
	type key struct {
		kind   string
		stream bool
	}
	got := map[key]int{}
	streams := 0
	for _, p := range plan {
		got[key{p.Kind.Name, p.Stream}]++
		if p.Stream {
			streams++
		}
	}
	for _, k := range softKinds {
		if got[key{k.Name, true}] != 10 || got[key{k.Name, false}] != 10 {
			t.Errorf("%s: %d streamed, %d not, want 10 and 10", k.Name, got[key{k.Name, true}], got[key{k.Name, false}])
		}
	}
	if got[key{"http401", true}] != 10 || got[key{"http401", false}] != 10 {
		t.Errorf("http401: %d streamed, %d not, want 10 and 10", got[key{"http401", true}], got[key{"http401", false}])
	}
	if streams != 1000 {
		t.Errorf("streamed = %d, want half of 2000", streams)
	}
}

func TestPlanFaultsDeterministic(t *testing.T) {
	a, b := planFaults("seed-1", 500, defaultFaultMix), planFaults("seed-1", 500, defaultFaultMix)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave two plans")
	}
	c := planFaults("seed-2", 500, defaultFaultMix)
	same := 0
	for i := range a {
		if a[i].Kind == c[i].Kind && a[i].Stream == c[i].Stream {
			same++
		}
	}
	if same == len(a) {
		t.Error("another seed gave the same order")
	}
	if soft := planFaults("x", 100, faultMix{}); slices.ContainsFunc(soft, func(p plannedRequest) bool {
		return p.Kind.Class != classClean
	}) {
		t.Error("a zero mix planned faults")
	}
}

func TestPlannedPromptDirective(t *testing.T) {
	for _, k := range append(slices.Clone(softKinds), hardKinds...) {
		for _, stream := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/stream=%t", k.Name, stream), func(t *testing.T) {
				p := plannedRequest{Stream: stream, Kind: k, Seed: "sd", FaultID: "id-1"}
				d, ok := qwenfake.ParseDirective(p.prompt(12))
				if !ok || len(d.Invalid) > 0 {
					t.Fatalf("directive not understood: %v %+v", ok, d)
				}
				wantAfter := 0
				if k.MidAnswer && !stream {
					wantAfter = midAnswerFrames
				}
				if d.Fail != k.Mode || d.Times != 1 || d.ID != "id-1" || d.Seed != "sd" || d.Tokens != 12 || d.After != wantAfter {
					t.Errorf("directive = %+v", d)
				}
			})
		}
	}
	d, ok := qwenfake.ParseDirective(plannedRequest{Kind: faultKind{Class: classClean}, Seed: "c"}.prompt(5))
	if !ok || d.Fail != "" || d.Seed != "c" || d.Tokens != 5 {
		t.Errorf("clean directive = %+v", d)
	}
}

// TestFaultsAreOneOff checks the soak's premise against the real emulator:
// a planned fault breaks the first attempt only; the same request sent
// again (a retry) gets the exact answer.
func TestFaultsAreOneOff(t *testing.T) {
	checkLeaks(t)
	fake, url := startEmulator(t, qwenfake.Options{Secret: []byte("soak")})
	s := newDirectClient(url, mintTokens([]byte("soak"), 1), transport(t, 4))
	for i, k := range append(slices.Clone(softKinds), hardKinds...) {
		t.Run(k.Name, func(t *testing.T) {
			p := plannedRequest{Stream: true, Kind: k, Seed: fmt.Sprint("one-off-", i), FaultID: fmt.Sprint("id-", i)}
			want := expectedAnswer(p.Seed, 6)
			text, err := firstAttempt(t, fake, s, p)
			// A malformed frame is extra: the direct reader skips it.
			if k.Mode != qwenfake.ModeMalformed && err == nil && text == want {
				t.Errorf("first attempt answered exactly: the fault did not fire")
			}
			text, err = s.stream(context.Background(), p.prompt(6), nil)
			if err != nil || text != want {
				t.Errorf("second attempt = %q, %v; want the exact answer", text, err)
			}
		})
	}
}

// firstAttempt sends p once. A stalled request is abandoned once the
// emulator has served the stall (as a relay's first-byte timeout would).
func firstAttempt(t *testing.T, fake *qwenfake.Server, s streamer, p plannedRequest) (string, error) {
	t.Helper()
	if p.Kind.Mode != qwenfake.ModeStall {
		return s.stream(context.Background(), p.prompt(6), nil)
	}
	before := fake.Stats().Failures[qwenfake.ModeStall]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type answer struct {
		text string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		text, err := s.stream(ctx, p.prompt(6), nil)
		done <- answer{text, err}
	}()
	for fake.Stats().Failures[qwenfake.ModeStall] == before {
		time.Sleep(5 * time.Millisecond) // waiting for a condition, not timing anything
	}
	cancel()
	a := <-done
	return a.text, a.err
}
