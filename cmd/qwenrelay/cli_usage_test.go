package main

import (
	"context"
	"encoding/json"
	"github.com/qwenrelay/qwenrelay/internal/usage"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// insertUsage writes rows straight into e's store, as a relay would.
func (e *cliEnv) insertUsage(rows []store.UsageRecord) {
	e.t.Helper()
	cfg := config.Default()
	cfg.DataDir = e.dataDir
	st, err := app.OpenStore(context.Background(), cfg, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	if err := st.InsertUsage(context.Background(), rows); err != nil {
		e.t.Fatal(err)
	}
}

func TestUsage(t *testing.T) {
	e := newCLIEnv(t)
	day1 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	day2 := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	e.insertUsage([]store.UsageRecord{
		{Time: day1, RequestID: "req-1", KeyID: 1, AccountID: 1, Model: "qwen3-max", Stream: true, PromptTokens: 10,
			CompletionTokens: 20, ReasoningTokens: 5, TTFT: 300 * time.Millisecond, Duration: 2 * time.Second, Status: 200},
		{Time: day1.Add(time.Hour), RequestID: "req-2", KeyID: 2, AccountID: 1, Model: "qwen-plus", PromptTokens: 7,
			CompletionTokens: 3, Duration: time.Second, Status: 200},
		{Time: day2, RequestID: "req-3", KeyID: 1, Model: "qwen3-max", Status: 503, ErrorKind: "no_account"},
	})
	wantContains(t, e.ok("", "keys", "list"), "no keys")

	out := e.ok("", "usage")
	wantContains(t, out, "REQUEST", "req-1", "req-2", "req-3", "qwen3-max", "300ms", "no_account")
	if strings.Index(out, "req-3") > strings.Index(out, "req-1") {
		t.Errorf("rows are not newest first:\n%s", out)
	}

	var rows []usage.Row
	if err := json.Unmarshal([]byte(e.ok("", "usage", "--json", "--key", "1")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].RequestID != "req-3" || rows[1].RequestID != "req-1" ||
		rows[1].TTFTMs != 300 || rows[1].DurationMs != 2000 || rows[1].ReasoningTokens != 5 || !rows[1].Stream {
		t.Errorf("--key 1 rows = %+v", rows)
	}

	filters := []struct {
		name string
		args []string
		want []string // request IDs, newest first
	}{
		{"account", []string{"--account", "1"}, []string{"req-2", "req-1"}},
		{"model", []string{"--model", "qwen-plus"}, []string{"req-2"}},
		{"date range includes the --to day", []string{"--from", "2026-11-01", "--to", "2026-11-01"}, []string{"req-2", "req-1"}},
		{"RFC 3339 --to is exclusive", []string{"--to", "2026-11-01T11:00:00Z"}, []string{"req-1"}},
		{"from", []string{"--from", "2026-11-02"}, []string{"req-3"}},
		{"limit", []string{"--limit", "1"}, []string{"req-3"}},
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			var rows []usage.Row
			if err := json.Unmarshal([]byte(e.ok("", append([]string{"usage", "--json"}, f.args...)...)), &rows); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.RequestID)
			}
			if strings.Join(got, ",") != strings.Join(f.want, ",") {
				t.Errorf("rows %v, want %v", got, f.want)
			}
		})
	}

	var days []usage.Day
	if err := json.Unmarshal([]byte(e.ok("", "usage", "--daily", "--json")), &days); err != nil {
		t.Fatal(err)
	}
	want := []usage.Day{
		{Day: "2026-11-01", Requests: 2, PromptTokens: 17, CompletionTokens: 23, ReasoningTokens: 5, TotalTokens: 40},
		{Day: "2026-11-02", Requests: 1, Errors: 1},
	}
	if len(days) != len(want) || days[0] != want[0] || days[1] != want[1] {
		t.Errorf("daily = %+v, want %+v", days, want)
	}
	wantContains(t, e.ok("", "usage", "--daily"), "DAY", "2026-11-01", "2026-11-02", "40")
	wantContains(t, e.ok("", "usage", "--model", "nope"), "no usage records match")
	_, errOut, err := e.run("", "usage", "--limit", "2")
	if err != nil || !strings.Contains(errOut, "raise --limit") {
		t.Errorf("a full page should hint at --limit: err %v, stderr %q", err, errOut)
	}
}
