package sqlite

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// TestConcurrentWriters: 50 goroutines insert usage, update accounts and
// read at once; no call may fail (in particular with SQLITE_BUSY) and no
// write may be lost.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	const workers, rounds, batch = 50, 10, 20
	accts := make([]*store.Account, workers)
	for i := range accts {
		accts[i] = sampleAccount(fmt.Sprintf("acct-%d", i))
		if err := db.CreateAccount(ctx, accts[i]); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, workers*rounds*4)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			a := *accts[w]
			for r := range rounds {
				rows := make([]store.UsageRecord, batch)
				for i := range rows {
					rows[i] = store.UsageRecord{Time: day0.Add(time.Duration(r) * time.Minute), KeyID: int64(w + 1),
						AccountID: a.ID, PromptTokens: 1, CompletionTokens: 1}
				}
				if err := db.InsertUsage(ctx, rows); err != nil {
					errs <- err
				}
				a.Token = fmt.Sprintf("token-%d-%d", w, r)
				a.LastUsedAt = day0.Add(time.Duration(r) * time.Second)
				if err := db.UpdateAccount(ctx, &a); err != nil {
					errs <- err
				}
				if _, err := db.KeyTokensSince(ctx, int64(w+1), day0); err != nil {
					errs <- err
				}
				if _, err := db.ListAccounts(ctx); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		n, err := db.KeyTokensSince(ctx, int64(w+1), time.Time{})
		if err != nil || n != rounds*batch*2 {
			t.Fatalf("key %d: %d tokens, %v; want %d", w+1, n, err, rounds*batch*2)
		}
		a, err := db.GetAccount(ctx, accts[w].ID)
		if err != nil || a.Token != fmt.Sprintf("token-%d-%d", w, rounds-1) {
			t.Fatalf("account %d: %q, %v", w, a.Token, err)
		}
	}
}

// TestTwoHandlesOneFile stands in for two processes sharing the file: each
// handle has its own writer, so they contend on SQLite's lock, which
// busy_timeout and IMMEDIATE transactions must absorb.
func TestTwoHandlesOneFile(t *testing.T) {
	ctx := context.Background()
	db1, path := openTest(t)
	db2, err := Open(ctx, path, testBox(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	const workers, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*rounds)
	for _, db := range []*DB{db1, db2} {
		for range workers {
			wg.Go(func() {
				for range rounds {
					rows := make([]store.UsageRecord, 10)
					for i := range rows {
						rows[i] = store.UsageRecord{Time: day0, KeyID: 1, PromptTokens: 1}
					}
					if err := db.InsertUsage(ctx, rows); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := db2.KeyTokensSince(ctx, 1, time.Time{}); err != nil || n != 2*workers*rounds*10 {
		t.Fatalf("tokens = %d, %v", n, err)
	}
}

func TestCloseReleasesTheStore(t *testing.T) {
	db, _ := openTest(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ListAccounts(context.Background()); err == nil {
		t.Fatal("list after close succeeded")
	}
	if err := db.InsertUsage(context.Background(), make([]store.UsageRecord, 1)); err == nil {
		t.Fatal("insert after close succeeded")
	}
}

func BenchmarkInsertUsage256(b *testing.B) {
	ctx := context.Background()
	db, _ := openTest(b)
	rows := make([]store.UsageRecord, 256)
	for i := range rows {
		rows[i] = store.UsageRecord{Time: day0, RequestID: fmt.Sprintf("req-%08d", i), KeyID: 1, AccountID: 2,
			Model: "qwen3-max", Stream: true, PromptTokens: 500, CompletionTokens: 200,
			TTFT: 300 * time.Millisecond, Duration: 4 * time.Second, Status: 200}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := db.InsertUsage(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}
