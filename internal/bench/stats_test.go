package bench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ms_(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms_(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{ms_(7)}, 99, ms_(7)},
		{"two p50", []time.Duration{ms_(1), ms_(2)}, 50, ms_(1)},
		{"two p99", []time.Duration{ms_(1), ms_(2)}, 99, ms_(2)},
		{"hundred p50", hundred, 50, ms_(50)},
		{"hundred p99", hundred, 99, ms_(99)},
		{"hundred p100", hundred, 100, ms_(100)},
		{"hundred tiny p", hundred, 0.001, ms_(1)},
		{"ten p99", hundred[:10], 99, ms_(10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%d values, %v) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestLatencyOfSorts(t *testing.T) {
	ds := []time.Duration{ms_(30), ms_(10), ms_(20), ms_(40)}
	got := latencyOf(ds)
	if got.P50 != 20 || got.P99 != 40 {
		t.Errorf("latencyOf = %+v, want p50 20 ms, p99 40 ms", got)
	}
}

func TestSummarize(t *testing.T) {
	samples := []sample{
		{ttft: ms_(1), total: ms_(10)},
		{ttft: ms_(3), total: ms_(30)},
		{ttft: ms_(2), total: ms_(20)},
		{ttft: ms_(1), total: ms_(1), err: errors.New("boom")},
		{ttft: ms_(1), total: ms_(2), corrupt: "seed x: differs"},
	}
	for i := range 10 {
		samples = append(samples, sample{err: errors.New("e" + string(rune('0'+i)))})
	}
	r := summarize("relay", 20, samples, 2*time.Second)
	if r.Target != "relay" || !r.Available || r.Requests != 20 || r.Started != 15 || r.NotStarted != 5 {
		t.Errorf("counts: %+v", r)
	}
	if r.OK != 3 || r.Errors != 11 || r.Corrupted != 1 {
		t.Errorf("ok/errors/corrupted = %d/%d/%d, want 3/11/1", r.OK, r.Errors, r.Corrupted)
	}
	if len(r.ErrorSamples) != maxSamples || r.ErrorSamples[0] != "boom" {
		t.Errorf("error samples = %q", r.ErrorSamples)
	}
	if len(r.CorruptSamples) != 1 {
		t.Errorf("corrupt samples = %q", r.CorruptSamples)
	}
	if r.ReqPerSec != 1.5 {
		t.Errorf("req/s = %v, want 1.5 (3 ok in 2 s)", r.ReqPerSec)
	}
	// Only good requests count in latencies.
	if r.TTFT.P50 != 2 || r.TTFT.P99 != 3 || r.Total.P50 != 20 || r.Total.P99 != 30 {
		t.Errorf("latencies: ttft %+v total %+v", r.TTFT, r.Total)
	}
}

func TestRatio(t *testing.T) {
	direct := &TargetResult{Available: true, ReqPerSec: 200}
	relay := &TargetResult{Available: true, ReqPerSec: 150}
	tests := []struct {
		name          string
		relay, direct *TargetResult
		want          float64
	}{
		{"both", relay, direct, 0.75},
		{"no relay", nil, direct, 0},
		{"no direct", relay, nil, 0},
		{"direct unavailable", relay, &TargetResult{ReqPerSec: 200}, 0},
		{"direct zero", relay, &TargetResult{Available: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ratio(tt.relay, tt.direct); got != tt.want {
				t.Errorf("ratio = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		got, want string
		at        string
	}{
		{"abcdef", "abcxef", "byte 3"},
		{"abc", "abcdef", "byte 3"},
		{"abcdef", "abc", "byte 3"},
		{"", "x", "byte 0"},
	}
	for _, tt := range tests {
		d := diff("s1", tt.got, tt.want)
		if !strings.Contains(d, tt.at) || !strings.HasPrefix(d, "seed s1:") {
			t.Errorf("diff(%q, %q) = %q, want it to name %s", tt.got, tt.want, d, tt.at)
		}
	}
}

func TestMessagesDedupes(t *testing.T) {
	var m messages
	for _, s := range []string{"a", "b", "a", "c", "d", "e", "f", "a", "f"} {
		m.add(s)
	}
	got := strings.Join(m.list(), "|")
	if want := "a (x3)|b|c|d|e"; got != want {
		t.Errorf("list = %q, want %q", got, want)
	}
	var empty messages
	if empty.list() != nil {
		t.Error("empty list is not nil")
	}
}
