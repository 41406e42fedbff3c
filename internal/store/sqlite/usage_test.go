package sqlite

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// day0 is midnight UTC; usage fixtures are placed relative to it.
var day0 = time.Date(2030, 3, 10, 0, 0, 0, 0, time.UTC)

// seedUsage inserts a fixed pattern over three days: per day, for keys 1
// and 2 and accounts 10 and 20, one row per (key, account) pair; the row of
// key 2 / account 20 is an error.
func seedUsage(t *testing.T, db *DB) []store.UsageRecord {
	t.Helper()
	var rows []store.UsageRecord
	for d := range 3 {
		for _, key := range []int64{1, 2} {
			for _, acct := range []int64{10, 20} {
				r := store.UsageRecord{
					Time:      day0.Add(time.Duration(d)*24*time.Hour + time.Duration(key*3600+acct)*time.Second),
					RequestID: fmt.Sprintf("req-%d-%d-%d", d, key, acct),
					KeyID:     key, AccountID: acct, Model: "qwen3-max", Stream: acct == 10,
					PromptTokens: 100, CompletionTokens: 10 * int(key), ReasoningTokens: 1,
					TTFT: 150 * time.Millisecond, Duration: 2*time.Second + 3*time.Microsecond, Status: 200,
				}
				if key == 2 && acct == 20 {
					r.Model, r.Status, r.ErrorKind = "qwen-plus", 502, "upstream"
				}
				rows = append(rows, r)
			}
		}
	}
	if err := db.InsertUsage(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestInsertAndQueryUsage(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	rows := seedUsage(t, db)
	for i, r := range rows {
		if r.ID == 0 {
			t.Fatalf("row %d has no ID", i)
		}
	}
	all, err := db.QueryUsage(ctx, store.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(rows) {
		t.Fatalf("got %d rows, want %d", len(all), len(rows))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.After(all[i-1].Time) {
			t.Fatalf("rows not newest first at %d", i)
		}
	}
	// Round trip of every field (the newest row is the last inserted).
	if !reflect.DeepEqual(all[0], rows[len(rows)-1]) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", all[0], rows[len(rows)-1])
	}

	tests := []struct {
		name string
		f    store.UsageFilter
		want int
	}{
		{"key", store.UsageFilter{KeyID: 1}, 6},
		{"account", store.UsageFilter{AccountID: 20}, 6},
		{"model", store.UsageFilter{Model: "qwen-plus"}, 3},
		{"key and account", store.UsageFilter{KeyID: 2, AccountID: 10}, 3},
		{"from", store.UsageFilter{From: day0.Add(24 * time.Hour)}, 8},
		{"to", store.UsageFilter{To: day0.Add(24 * time.Hour)}, 4},
		{"from and to", store.UsageFilter{From: day0.Add(24 * time.Hour), To: day0.Add(48 * time.Hour)}, 4},
		{"everything", store.UsageFilter{KeyID: 2, AccountID: 20, Model: "qwen-plus", From: day0, To: day0.Add(24 * time.Hour)}, 1},
		{"limit", store.UsageFilter{Limit: 5}, 5},
		{"no match", store.UsageFilter{KeyID: 3}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.QueryUsage(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d rows, want %d", len(got), tt.want)
			}
			for _, r := range got {
				if (tt.f.KeyID != 0 && r.KeyID != tt.f.KeyID) || (tt.f.AccountID != 0 && r.AccountID != tt.f.AccountID) ||
					(tt.f.Model != "" && r.Model != tt.f.Model) || (!tt.f.From.IsZero() && r.Time.Before(tt.f.From)) ||
					(!tt.f.To.IsZero() && !r.Time.Before(tt.f.To)) {
					t.Fatalf("row %+v does not match filter", r)
				}
			}
		})
	}
}

func TestQueryUsageLimits(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	rows := make([]store.UsageRecord, MaxUsageLimit+5)
	for i := range rows {
		rows[i] = store.UsageRecord{Time: day0.Add(time.Duration(i) * time.Millisecond), KeyID: 1}
	}
	if err := db.InsertUsage(ctx, rows); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ limit, want int }{{0, DefaultUsageLimit}, {-1, DefaultUsageLimit}, {7, 7}, {MaxUsageLimit * 2, MaxUsageLimit}} {
		got, err := db.QueryUsage(ctx, store.UsageFilter{Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.want {
			t.Errorf("limit %d: %d rows, want %d", tt.limit, len(got), tt.want)
		}
		if len(got) > 0 && !got[0].Time.Equal(rows[len(rows)-1].Time) {
			t.Errorf("limit %d: first row is not the newest", tt.limit)
		}
	}
}

func TestDailyTotals(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	seedUsage(t, db)
	got, err := db.DailyTotals(ctx, store.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var want []store.DailyTotal
	for d := range 3 {
		want = append(want, store.DailyTotal{
			Day: day0.AddDate(0, 0, d).Format("2006-01-02"), Requests: 4, Errors: 1,
			PromptTokens: 400, CompletionTokens: 10 + 10 + 20 + 20, ReasoningTokens: 4,
		})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("totals:\n got %+v\nwant %+v", got, want)
	}
	got, err = db.DailyTotals(ctx, store.UsageFilter{KeyID: 1, From: day0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Day != "2030-03-11" || got[0].Requests != 2 || got[0].Errors != 0 || got[0].CompletionTokens != 20 {
		t.Fatalf("filtered totals: %+v", got)
	}
	got, err = db.DailyTotals(ctx, store.UsageFilter{KeyID: 99})
	if err != nil || len(got) != 0 {
		t.Fatalf("empty totals: %+v, %v", got, err)
	}
}

func TestKeyTokensSince(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	seedUsage(t, db)
	tests := []struct {
		key   int64
		since time.Time
		want  int64
	}{
		{1, time.Time{}, 3 * 2 * 110},
		{2, time.Time{}, 3 * 2 * 120},
		{1, day0.Add(48 * time.Hour), 2 * 110},
		{2, day0.Add(48*time.Hour + 2*time.Hour + 15*time.Second), 120}, // only account 20's row that day
		{1, day0.Add(72 * time.Hour), 0},
		{3, time.Time{}, 0},
	}
	for _, tt := range tests {
		got, err := db.KeyTokensSince(ctx, tt.key, tt.since)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("key %d since %v = %d, want %d", tt.key, tt.since, got, tt.want)
		}
	}
}

func TestDeleteUsageBefore(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	seedUsage(t, db)
	n, err := db.DeleteUsageBefore(ctx, day0.Add(24*time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("deleted %d, %v; want 4", n, err)
	}
	rest, _ := db.QueryUsage(ctx, store.UsageFilter{})
	if len(rest) != 8 {
		t.Fatalf("%d rows left, want 8", len(rest))
	}
	for _, r := range rest {
		if r.Time.Before(day0.Add(24 * time.Hour)) {
			t.Fatalf("old row survived: %v", r.Time)
		}
	}
	// More rows than one batch.
	big := make([]store.UsageRecord, 2*deleteBatch+3)
	for i := range big {
		big[i].Time = day0.Add(-time.Duration(i+1) * time.Second)
	}
	if err := db.InsertUsage(ctx, big); err != nil {
		t.Fatal(err)
	}
	n, err = db.DeleteUsageBefore(ctx, day0.Add(24*time.Hour))
	if err != nil || n != int64(len(big)) {
		t.Fatalf("deleted %d, %v; want %d", n, err, len(big))
	}
	if n, _ := db.DeleteUsageBefore(ctx, day0); n != 0 {
		t.Fatalf("second delete removed %d", n)
	}
}

func TestInsertUsageIsAtomic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	db, _ := openTest(t)
	cancel()
	if err := db.InsertUsage(ctx, make([]store.UsageRecord, 10)); err == nil {
		t.Fatal("insert with a cancelled context succeeded")
	}
	got, err := db.QueryUsage(context.Background(), store.UsageFilter{})
	if err != nil || len(got) != 0 {
		t.Fatalf("rows after failed insert: %d, %v", len(got), err)
	}
	if err := db.InsertUsage(context.Background(), nil); err != nil {
		t.Fatalf("empty insert: %v", err)
	}
}
