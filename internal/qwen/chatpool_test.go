package qwen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// memTransport serves requests with an emulator in memory, so a test runs
// inside a synctest bubble (no sockets, whose reads never count as
// durably blocked). It counts chats/new calls and the most in flight at once
// per token, and can make chats/new fail.
type memTransport struct {
	h http.Handler

	mu       sync.Mutex
	newChats int
	inFlight map[string]int // per token
	maxIn    int
	failNew  bool
}

func (m *memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	isNew := strings.HasSuffix(r.URL.Path, "/chats/new")
	tok := r.Header.Get("Cookie")
	if isNew {
		m.mu.Lock()
		m.newChats++
		if m.inFlight == nil {
			m.inFlight = map[string]int{}
		}
		m.inFlight[tok]++
		m.maxIn = max(m.maxIn, m.inFlight[tok])
		fail := m.failNew
		m.mu.Unlock()
		defer func() {
			m.mu.Lock()
			m.inFlight[tok]--
			m.mu.Unlock()
		}()
		if fail {
			rec := httptest.NewRecorder()
			rec.WriteHeader(http.StatusInternalServerError)
			resp := rec.Result()
			resp.Request = r
			return resp, nil
		}
	}
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

func (m *memTransport) counts() (newChats, maxInFlight int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.newChats, m.maxIn
}

func (m *memTransport) setFail(v bool) {
	m.mu.Lock()
	m.failNew = v
	m.mu.Unlock()
}

// poolRig is an emulator served in memory and a client with the chat pool.
type poolRig struct {
	fake *qwenfake.Server
	tr   *memTransport
	c    *Client
	cred upstream.Credential
}

func newPoolRig(t *testing.T, fo qwenfake.Options, po ChatPoolOptions, mutate func(*Options)) *poolRig {
	t.Helper()
	fake := qwenfake.New(fo)
	tr := &memTransport{h: fake}
	po.Enabled = true
	o := Options{BaseURL: "http://upstream.test", HTTPClient: &http.Client{Transport: tr}, DeleteChats: true, ChatPool: po}
	if mutate != nil {
		mutate(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &poolRig{fake: fake, tr: tr, c: c, cred: upstream.Credential{ID: "u1", Token: fake.MintToken("u1", time.Hour)}}
}

// ask runs one request to its end and fails the test on an error.
func (r *poolRig) ask(t *testing.T, cred upstream.Credential, model string) {
	t.Helper()
	req := userReq("hi [[qwenfake tokens=2]]")
	req.Model = model
	if o := runCred(t, r.c, cred, req); o.err != nil {
		t.Fatalf("request: %v", o.err)
	}
}

// closeAndCheck closes the client and checks that no chat is left upstream
// and that every chat created was used or deleted.
func (r *poolRig) closeAndCheck(t *testing.T) qwenfake.Stats {
	t.Helper()
	if err := r.c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := r.fake.Stats()
	if st.ChatsAlive != 0 || st.ChatsDeleted+st.ChatsExpired != st.ChatsNew {
		t.Fatalf("chats leaked: %+v", st)
	}
	return st
}

func TestChatPoolHandsOutReadyChats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newPoolRig(t, qwenfake.Options{ChatDelay: 400 * time.Millisecond}, ChatPoolOptions{}, nil)
		for range 5 {
			r.ask(t, r.cred, "qwen3.7-plus")
			time.Sleep(2 * time.Second) // a lone user's pause: the refill is done by then
		}
		ps := r.c.ChatPoolStats()
		if ps.Missed != 1 || ps.Taken != 4 {
			t.Fatalf("pool stats %+v, want 1 miss then 4 ready chats", ps)
		}
		if ps.Ready != 1 {
			t.Fatalf("ready %d, want one spare for a lone user", ps.Ready)
		}
		st := r.closeAndCheck(t)
		ps = r.c.ChatPoolStats()
		if st.ChatsNew != ps.Created+ps.Missed || st.ChatsUsed != 5 || ps.Expired != 1 {
			t.Fatalf("emulator %+v, pool %+v", st, ps)
		}
	})
}

func TestChatPoolOff(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
	}{
		{"disabled", func(o *Options) { o.ChatPool.Enabled = false }},
		{"deletion off", func(o *Options) { o.DeleteChats = false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newPoolRig(t, qwenfake.Options{}, ChatPoolOptions{}, tt.mutate)
				for range 3 {
					r.ask(t, r.cred, "qwen3.7-plus")
					time.Sleep(time.Second)
				}
				if err := r.c.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				if n, _ := r.tr.counts(); n != 3 {
					t.Fatalf("%d chats/new calls, want one per request", n)
				}
				if ps := r.c.ChatPoolStats(); ps != (ChatPoolStats{}) {
					t.Fatalf("pool stats %+v with the pool off", ps)
				}
			})
		})
	}
}

func TestChatPoolTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newPoolRig(t, qwenfake.Options{}, ChatPoolOptions{TTL: time.Minute}, nil)
		r.ask(t, r.cred, "qwen3.7-plus")
		time.Sleep(time.Second)
		if ps := r.c.ChatPoolStats(); ps.Ready != 1 {
			t.Fatalf("ready %d, want 1", ps.Ready)
		}
		time.Sleep(time.Minute + time.Minute/4) // past the TTL and one sweep
		if err := r.c.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		ps := r.c.ChatPoolStats()
		if ps.Ready != 0 || ps.Expired != 1 {
			t.Fatalf("pool stats %+v, want the spare deleted at its TTL", ps)
		}
		if st := r.fake.Stats(); st.ChatsAlive != 0 {
			t.Fatalf("%d chats alive after the TTL, want 0", st.ChatsAlive)
		}
		// The relay was idle for longer than the TTL: no refill either.
		if n, _ := r.tr.counts(); n != 2 {
			t.Fatalf("%d chats/new calls, want 2 (the request's and one spare)", n)
		}
		r.closeAndCheck(t)
	})
}

func TestChatPoolNotFoundFallsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The upstream forgets unused chats after 30 s; our TTL is longer.
		r := newPoolRig(t, qwenfake.Options{ChatExpiry: 30 * time.Second}, ChatPoolOptions{TTL: 2 * time.Minute}, nil)
		r.ask(t, r.cred, "qwen3.7-plus")
		time.Sleep(31 * time.Second)
		r.ask(t, r.cred, "qwen3.7-plus") // the pooled chat is Not_Found: a fresh one serves
		ps := r.c.ChatPoolStats()
		if ps.Taken != 1 || ps.Gone != 1 {
			t.Fatalf("pool stats %+v, want one ready chat taken and found gone", ps)
		}
		st := r.closeAndCheck(t)
		if st.ChatsExpired != 1 || st.ChatsUsed != 2 {
			t.Fatalf("emulator %+v", st)
		}
	})
}

func TestChatPoolPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newPoolRig(t, qwenfake.Options{}, ChatPoolOptions{}, nil)
		r.tr.setFail(true)
		req := userReq("hi")
		if _, err := r.c.OpenChat(context.Background(), r.cred, req); err == nil {
			t.Fatal("want the request's own chats/new to fail")
		}
		// The filler retries after 1 s, 2 s, 4 s: at t = 0, 1, 3, 7.
		time.Sleep(7*time.Second + 500*time.Millisecond)
		synctest.Wait()
		if n, _ := r.tr.counts(); n != 1+4 {
			t.Fatalf("%d chats/new calls, want the request's and 4 paced retries", n)
		}
		r.tr.setFail(false)
		time.Sleep(8 * time.Second) // the next retry succeeds
		if ps := r.c.ChatPoolStats(); ps.Ready != 1 {
			t.Fatalf("pool stats %+v after the upstream recovered", ps)
		}
		r.closeAndCheck(t)
	})
}

func TestChatPoolConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newPoolRig(t, qwenfake.Options{ChatDelay: 50 * time.Millisecond}, ChatPoolOptions{Total: 3}, nil)
		creds := []upstream.Credential{r.cred, {ID: "u2", Token: r.fake.MintToken("u2", time.Hour)}}
		models := []string{"qwen3.7-plus", "qwen3.7-max"}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 20 {
					r.ask(t, creds[(w+i)%2], models[w%2])
					time.Sleep(time.Duration(w*10) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		ps := r.c.ChatPoolStats()
		if ps.Taken+ps.Missed != 160 || ps.Taken == 0 || ps.Ready > 3 {
			t.Fatalf("pool stats %+v", ps)
		}
		if _, maxIn := r.tr.counts(); maxIn > 1+8 {
			t.Fatalf("%d chats/new at once on one token", maxIn)
		}
		st := r.closeAndCheck(t)
		ps = r.c.ChatPoolStats() // creations in flight at Close finished
		if st.ChatsNew != ps.Created+ps.Missed || st.ChatsUsed != 160 {
			t.Fatalf("emulator %+v, pool %+v", st, ps)
		}
	})
}

// TestChatPoolOneCreationPerCredential: background creations of one
// credential never overlap and are spaced.
func TestChatPoolOneCreationPerCredential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newPoolRig(t, qwenfake.Options{ChatDelay: 400 * time.Millisecond}, ChatPoolOptions{PerCredential: 4}, nil)
		// Requests arrive faster than chats can be made: the pool wants
		// its maximum and the filler works back to back.
		for range 30 {
			s, err := r.c.OpenChat(context.Background(), r.cred, userReq("hi"))
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait()
		ps := r.c.ChatPoolStats()
		if _, maxIn := r.tr.counts(); ps.Created == 0 || ps.Ready > 4 || maxIn > 2 {
			// 2: the filler's and the request's own chats/new
			t.Fatalf("pool stats %+v, %d chats/new at once", ps, maxIn)
		}
		// A rate far above what one creation at a time can serve: the
		// bound, not the rate, decides.
		r.c.pool.mu.Lock()
		for _, b := range r.c.pool.buckets {
			b.rate = 100
		}
		r.c.pool.startFillLocked(r.cred.ID, time.Now())
		r.c.pool.mu.Unlock()
		time.Sleep(3 * time.Second)
		if ps = r.c.ChatPoolStats(); ps.Ready != 4 {
			t.Fatalf("ready %d, want the per-credential bound 4 under a high rate", ps.Ready)
		}
		r.closeAndCheck(t)
	})
}

// TestChatPoolCloseWaitsForCreation: a creation in flight at Close is
// finished and its chat deleted, never lost.
func TestChatPoolCloseWaitsForCreation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newPoolRig(t, qwenfake.Options{ChatDelay: 400 * time.Millisecond}, ChatPoolOptions{}, nil)
		r.ask(t, r.cred, "qwen3.7-plus")
		time.Sleep(100 * time.Millisecond) // the filler is inside chats/new
		st := r.closeAndCheck(t)
		if ps := r.c.ChatPoolStats(); ps.Created != 1 || ps.Expired != 1 || st.ChatsNew != 2 {
			t.Fatalf("pool %+v, emulator %+v", ps, st)
		}
		if _, err := r.c.OpenChat(context.Background(), r.cred, userReq("hi")); err != nil {
			t.Fatalf("after Close the client still answers without the pool: %v", err)
		}
	})
}

func TestChatPoolWant(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name    string
		rate    float64
		latency time.Duration
		since   time.Duration
		per     int
		want    int
	}{
		{"never asked", 0, 0, -1, 2, 0},
		{"lone user", 0.2, 400 * time.Millisecond, time.Second, 2, 1},
		{"busy", 3, 400 * time.Millisecond, 0, 2, 2},
		{"busy, bound 1", 3, 400 * time.Millisecond, 0, 1, 1},
		{"very busy", 30, 400 * time.Millisecond, 0, 8, 8},
		{"idle past the TTL", 3, 400 * time.Millisecond, 2 * time.Minute, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &chatPool{o: ChatPoolOptions{PerCredential: tt.per, TTL: 2 * time.Minute}}
			b := &bucket{rate: tt.rate}
			if tt.since >= 0 {
				b.lastTake = now.Add(-tt.since)
			}
			if got := p.want(b, &credState{latency: tt.latency}, now); got != tt.want {
				t.Fatalf("want() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestChatPoolRate(t *testing.T) {
	b := &bucket{}
	at := time.Unix(0, 0)
	for range 200 {
		b.observe(at)
		at = at.Add(500 * time.Millisecond)
	}
	if b.rate < 1.5 || b.rate > 2.01 {
		t.Fatalf("rate %.2f/s after steady takes every 500 ms, want about 2", b.rate)
	}
	b.observe(at.Add(10 * time.Minute))
	if b.rate > 0.1 {
		t.Fatalf("rate %.2f/s after a long pause, want near 0", b.rate)
	}
}

func TestChatPoolOptionsInvalid(t *testing.T) {
	for _, po := range []ChatPoolOptions{{PerCredential: -1}, {Total: -1}, {TTL: -time.Second}, {Spacing: -1}} {
		t.Run(fmt.Sprintf("%+v", po), func(t *testing.T) {
			po.Enabled = true
			_, err := New(Options{BaseURL: "http://x.test", HTTPClient: http.DefaultClient, DeleteChats: true, ChatPool: po})
			if err == nil {
				t.Fatal("want an error")
			}
		})
	}
}
