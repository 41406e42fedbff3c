package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleFaults is a two-round soak result: one clean pass, one failing.
func sampleFaults() *FaultsResult {
	f := &FaultsResult{Available: true, N: 4, C: 2, Tokens: 8, Seed: "sd", Mix: defaultFaultMix,
		SoftKinds: kindNames(softKinds), HardKinds: kindNames(hardKinds), FirstByteTimeout: "2s"}
	good := newFaultRound(1, 2)
	good.Available, good.Released = true, true
	good.add(plannedRequest{Kind: softKinds[0]}, outcome{res: resExact})
	good.add(plannedRequest{Kind: faultKind{Name: "clean", Class: classClean}}, outcome{res: resExact})
	good.Before.FDs, good.After.FDs, good.GoroutinesBefore, good.GoroutinesAfter = 10, 11, 20, 21
	good.finish()
	bad := newFaultRound(5, 3)
	bad.Available, bad.Released = true, false
	bad.add(plannedRequest{Kind: softKinds[2], Stream: true}, outcome{res: resTyped, label: "HTTP 429 upstream_rate_limited", detail: "cooling"})
	bad.add(plannedRequest{Kind: softKinds[3]}, outcome{res: resTyped, label: "HTTP 429 upstream_rate_limited", detail: "cooling"})
	bad.add(plannedRequest{Kind: softKinds[4]}, outcome{res: resTyped, label: "HTTP 502 upstream_error", detail: "failed"})
	bad.Before.FDs, bad.After.FDs, bad.GoroutinesBefore, bad.GoroutinesAfter = 10, 40, 20, 90
	bad.finish()
	f.Rounds = []*FaultRound{good, bad}
	f.Pass = good.Pass && bad.Pass
	return f
}

func TestWriteFaults(t *testing.T) {
	var out bytes.Buffer
	writeFaults(&out, sampleFaults())
	got := out.String()
	for _, want := range []string{
		"== faults: n=4 c=2 tokens=8 per round; soft 10% (empty think_only", "hard 1% (http401)", "--fault-seed sd",
		"100.0%", "1/1", "20→21", "10→11",
		"5 acct typed errors: HTTP 429 upstream_rate_limited ×2, HTTP 502 upstream_error ×1",
		"5 acct error: [bad_request stream] cooling",
		"5 acct LEAK: fds 10→40, goroutines 20→90",
		"first_byte_timeout 2s",
		": FAIL",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	// One line per round, with its verdict; the kind matrix has one column
	// per round and a row per kind.
	for _, row := range []string{"1 2 100.0% 0.0% 0 0 0 0 1/1 - 1/1 20→21 10→11 0.0s PASS",
		"5 3 0.0% 100.0% 0 0 0 0 0/3 - - 20→90 10→40 0.0s FAIL",
		"empty 1/1 -", "bad_request - 0/1", "clean 1/1 -"} {
		if !strings.Contains(strings.Join(strings.Fields(got), " "), strings.Join(strings.Fields(row), " ")) {
			t.Errorf("kind matrix lacks %q:\n%s", row, got)
		}
	}
}

func TestReportJSONWithFaults(t *testing.T) {
	rep := &Report{Faults: sampleFaults()}
	rep.Faults.Rounds[1].add(plannedRequest{Kind: softKinds[0]}, outcome{res: resWrong, label: "wrong answer", detail: "d"})
	rep.Faults.Rounds[1].add(plannedRequest{Kind: softKinds[1]}, outcome{res: resEmpty, label: "empty success", detail: "d"})
	if rep.countCorrupted() != 2 {
		t.Errorf("corrupted = %d, want the wrong and the empty success", rep.countCorrupted())
	}
	var hdr bytes.Buffer
	rep.writeHeader(&hdr) // no shared env when only faults ran
	path := filepath.Join(t.TempDir(), "r.json")
	if err := rep.writeJSON(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var back struct {
		Env    any
		Faults struct {
			Seed   string
			Rounds []struct {
				Accounts    int
				TypedByCode map[string]int `json:"typed_by_code"`
				ExactShare  float64        `json:"exact_share"`
				Before      procStats
				Goroutines  int `json:"goroutines_before"`
			}
		}
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	r := back.Faults.Rounds
	if back.Env != nil || back.Faults.Seed != "sd" || len(r) != 2 || r[0].ExactShare != 1 || r[1].Accounts != 5 ||
		r[1].TypedByCode["HTTP 429 upstream_rate_limited"] != 2 || r[0].Before.FDs != 10 || r[0].Goroutines != 20 {
		t.Errorf("JSON round trip: %s", b)
	}
}
