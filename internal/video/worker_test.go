package video

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

var testOpts = Options{PollInterval: 20 * time.Second, MaxDuration: 30 * time.Minute, Concurrency: 2}

// runUntilDone runs the service on jobs until all are final (the fake
// clock makes the minutes instant), then stops it.
func runUntilDone(t *testing.T, st *memStore, p *provider, pk *picker, ids ...string) {
	t.Helper()
	s := New(testOpts, st, p, pk, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	for range 10000 {
		synctest.Wait()
		all := true
		for _, id := range ids {
			if j := st.get(id); !j.Finished() {
				all = false
			}
		}
		if all {
			break
		}
		time.Sleep(time.Second)
	}
	cancel()
	<-done
}

func running(p int) qwen.VideoTask { return qwen.VideoTask{Status: "running", Progress: p} }

func TestWorker(t *testing.T) {
	quota := &upstream.Error{Kind: upstream.KindQuota, Message: "daily quota reached"}
	success := qwen.VideoTask{Status: qwen.TaskSuccess, URL: "https://cdn.example/v.mp4"}
	tests := []struct {
		name       string
		accounts   int
		p          *provider
		job        store.VideoJob
		wantStatus string
		wantCode   string
		wantMsg    string
		wantAcct   int64
		wantSubmit int
	}{
		{name: "completes", accounts: 1, p: &provider{statuses: []qwen.VideoTask{running(30), running(60), success}},
			wantStatus: store.VideoCompleted, wantAcct: 1, wantSubmit: 1},
		{name: "quota moves to another account", accounts: 2,
			p:          &provider{submitErrs: []error{quota}, statuses: []qwen.VideoTask{running(10), success}},
			wantStatus: store.VideoCompleted, wantAcct: 2, wantSubmit: 2},
		{name: "quota on every account", accounts: 2, p: &provider{submitErrs: []error{quota, quota}},
			wantStatus: store.VideoFailed, wantCode: CodeUnavailable, wantMsg: "daily quota reached", wantSubmit: 2},
		{name: "refused request", accounts: 2,
			p:          &provider{submitErrs: []error{&upstream.Error{Kind: upstream.KindContentFilter, Message: "filtered"}}},
			wantStatus: store.VideoFailed, wantCode: CodeRefused, wantMsg: "filtered", wantSubmit: 1},
		{name: "soft error is retried on the same account", accounts: 1,
			p:          &provider{submitErrs: []error{&upstream.Error{Kind: upstream.KindTransient}}, statuses: []qwen.VideoTask{success}},
			wantStatus: store.VideoCompleted, wantAcct: 1, wantSubmit: 2},
		{name: "upstream failure", accounts: 1,
			p:          &provider{statuses: []qwen.VideoTask{running(5), {Status: qwen.TaskFailed, Message: "bad frames"}}},
			wantStatus: store.VideoFailed, wantCode: CodeFailed, wantMsg: "bad frames", wantAcct: 1, wantSubmit: 1},
		{name: "never finishes", accounts: 1, p: &provider{statuses: []qwen.VideoTask{running(1)}},
			wantStatus: store.VideoFailed, wantCode: CodeTimeout, wantMsg: "30m0s", wantAcct: 1, wantSubmit: 1},
		{name: "polls keep failing", accounts: 1,
			p:          &provider{pollErr: &upstream.Error{Kind: upstream.KindNetwork, Message: "connection failed"}},
			wantStatus: store.VideoFailed, wantCode: CodeUnavailable, wantMsg: "connection failed", wantAcct: 1, wantSubmit: 1},
		{name: "resumes a submitted job without submitting again", accounts: 2,
			p:          &provider{submitted: map[string]string{"task-0": "acct-2"}, statuses: []qwen.VideoTask{success}},
			job:        store.VideoJob{TaskID: "task-0", AccountID: 2, Status: store.VideoInProgress},
			wantStatus: store.VideoCompleted, wantAcct: 2, wantSubmit: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := newMemStore()
				j := tc.job
				j.ID, j.Model, j.Prompt, j.Size, j.CreatedAt = "video_1", "m", "a cat", "1280x720", time.Now()
				if j.Status == "" {
					j.Status = store.VideoQueued
				}
				_ = st.PutVideo(context.Background(), &j)
				p := tc.p
				runUntilDone(t, st, p, &picker{n: tc.accounts}, j.ID)
				got := st.get(j.ID)
				if got.Status != tc.wantStatus || got.ErrCode != tc.wantCode || !strings.Contains(got.ErrMsg, tc.wantMsg) {
					t.Fatalf("job %+v", got)
				}
				if got.AccountID != tc.wantAcct || p.submits != tc.wantSubmit || p.wrongCred != 0 {
					t.Fatalf("account %d submits %d wrong-account polls %d", got.AccountID, p.submits, p.wrongCred)
				}
				if got.Status == store.VideoCompleted && (got.URL != success.URL || got.Progress != 100) {
					t.Fatalf("completed job %+v", got)
				}
				if tc.wantCode == CodeTimeout && got.DoneAt.Sub(got.CreatedAt) < testOpts.MaxDuration {
					t.Fatalf("timed out after %s", got.DoneAt.Sub(got.CreatedAt))
				}
				if tc.name == "polls keep failing" && p.polls != maxPollErrors {
					t.Fatalf("%d polls before giving up, want %d", p.polls, maxPollErrors)
				}
			})
		})
	}
}

// TestWorkerShutdown: a job in progress when the worker stops stays
// unfinished (for the next start), and Run returns.
func TestWorkerShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		p := &provider{statuses: []qwen.VideoTask{running(1)}}
		s := New(testOpts, st, p, &picker{n: 1}, nil, nil)
		_ = st.PutVideo(context.Background(), &store.VideoJob{ID: "video_1", Model: "m", Prompt: "x",
			Status: store.VideoQueued, CreatedAt: time.Now()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		time.Sleep(5 * time.Minute)
		cancel()
		<-done
		if j := st.get("video_1"); j.Status != store.VideoInProgress || j.TaskID == "" || j.Finished() {
			t.Fatalf("after shutdown: %+v", j)
		}
	})
}

// TestWorkerConcurrency: no more than Concurrency submissions at once.
func TestWorkerConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		gate := make(chan struct{})
		p := &provider{gate: gate, statuses: []qwen.VideoTask{{Status: qwen.TaskSuccess, URL: "https://x/v.mp4"}}}
		var ids []string
		for i := range 5 {
			id := "video_" + string(rune('a'+i))
			ids = append(ids, id)
			_ = st.PutVideo(context.Background(), &store.VideoJob{ID: id, Model: "m", Prompt: "x",
				Status: store.VideoQueued, CreatedAt: time.Now()})
		}
		s := New(testOpts, st, p, &picker{n: 1}, nil, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		synctest.Wait()
		p.mu.Lock()
		blocked := p.inFlight
		p.mu.Unlock()
		if blocked != testOpts.Concurrency {
			t.Fatalf("%d submissions at once, want %d", blocked, testOpts.Concurrency)
		}
		close(gate)
		for range 1000 {
			time.Sleep(time.Minute)
			all := true
			for _, id := range ids {
				all = all && st.get(id).Status == store.VideoCompleted
			}
			if all {
				break
			}
		}
		cancel()
		<-done
		for _, id := range ids {
			if j := st.get(id); j.Status != store.VideoCompleted {
				t.Fatalf("%s: %+v", id, j)
			}
		}
		if p.maxFlight != testOpts.Concurrency {
			t.Fatalf("max in flight %d, want %d", p.maxFlight, testOpts.Concurrency)
		}
	})
}

func TestRatioOf(t *testing.T) {
	tests := []struct{ size, want string }{
		{"1280x720", "16:9"}, {"720x1280", "9:16"}, {"1792x1024", "16:9"}, {"1024x1792", "9:16"},
		{"1024x1024", "1:1"}, {"1024x768", "4:3"}, {"768x1024", "3:4"}, {"big", ""}, {"0x10", ""}, {"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.size, func(t *testing.T) {
			if got := ratioOf(tc.size); got != tc.want {
				t.Fatalf("ratioOf(%q) = %q, want %q", tc.size, got, tc.want)
			}
		})
	}
}
