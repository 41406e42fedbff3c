package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRelayLeavesNoChats runs answers (good and failed ones) through the
// whole relay and checks that, once the app is closed, no upstream chat is
// left behind by default (with the chat pool on or off), and that
// delete_chats=false keeps them.
func TestRelayLeavesNoChats(t *testing.T) {
	texts := []string{
		"hi [[qwenfake tokens=3]]",
		"hi [[qwenfake tokens=3 seed=b]]",
		"hi [[qwenfake fail=content_filter]]",
		"hi [[qwenfake tokens=2 dual=1]]",
	}
	for _, tc := range []struct{ del, pool bool }{{true, true}, {true, false}, {false, true}} {
		del := tc.del
		t.Run(fmt.Sprintf("delete_chats=%v,chat_pool=%v", del, tc.pool), func(t *testing.T) {
			emu := qwenfake.New(qwenfake.Options{})
			// Slow deletions: the check below only passes if Close waits.
			emuSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodDelete {
					time.Sleep(20 * time.Millisecond)
				}
				emu.ServeHTTP(w, r)
			}))
			defer func() { emu.Close(); emuSrv.Close() }()
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			cfg.UpstreamURL = emuSrv.URL
			cfg.QwenTokens = []string{emu.MintToken("alice", time.Hour)}
			cfg.AccountMinInterval = 0
			cfg.DeleteChats = del
			cfg.ChatPool = tc.pool
			a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a.Handler)
			tr := &http.Transport{}
			var wg sync.WaitGroup
			sem := make(chan struct{}, 20) // 100 requests, 20 at a time
			for i := range 100 {
				text := texts[i%len(texts)]
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					body := fmt.Sprintf(`{"model":"qwen3.7-plus","messages":[{"role":"user","content":%q}]}`, text)
					resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}()
			}
			wg.Wait()
			tr.CloseIdleConnections()
			srv.Close()
			if err := a.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := emu.Stats()
			t.Logf("chats created %d, used %d, deleted %d, alive %d; DELETE calls %d; pool %+v",
				st.ChatsNew, st.ChatsUsed, st.ChatsDeleted, st.ChatsAlive, st.Paths["DELETE /api/v2/chats/{id}"], a.provider.ChatPoolStats())
			if st.ChatsNew < 100 {
				t.Fatalf("only %d chats created", st.ChatsNew)
			}
			want := st.ChatsNew
			if del {
				want = 0
			}
			if st.ChatsAlive != want {
				t.Errorf("%d chats left upstream, want %d (stats %+v)", st.ChatsAlive, want, st)
			}
		})
	}
}

// TestRelayDualAnswerOnce: a stream carrying two interleaved candidate
// answers (docs/qwen-protocol.md §11.4) reaches the client as the first
// candidate only, streamed and not.
func TestRelayDualAnswerOnce(t *testing.T) {
	emu := qwenfake.New(qwenfake.Options{})
	emuSrv := httptest.NewServer(emu)
	defer func() { emu.Close(); emuSrv.Close() }()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.UpstreamURL = emuSrv.URL
	cfg.QwenTokens = []string{emu.MintToken("alice", time.Hour)}
	cfg.AccountMinInterval = 0
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	tr := &http.Transport{}
	defer func() {
		tr.CloseIdleConnections()
		srv.Close()
		if err := a.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	want, other := qwenfake.AnswerText("dd", 6), qwenfake.DualSecondText("dd", 6)
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			body := fmt.Sprintf(`{"model":"qwen3.7-plus","stream":%v,"messages":[{"role":"user","content":"hi [[qwenfake tokens=6 seed=dd dual=1]]"}]}`, stream)
			resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			got := contentOf(t, raw, stream)
			if got != want || strings.Contains(got, other) {
				t.Fatalf("answer %q, want %q once (status %d)", got, want, resp.StatusCode)
			}
		})
	}
}

// contentOf extracts the answer text of a chat completion, or of a stream
// of chunks.
func contentOf(t *testing.T, raw []byte, stream bool) string {
	t.Helper()
	if !stream {
		var v struct {
			Choices []struct{ Message struct{ Content string } }
		}
		if err := json.Unmarshal(raw, &v); err != nil || len(v.Choices) != 1 {
			t.Fatalf("answer %s: %v", raw, err)
		}
		return v.Choices[0].Message.Content
	}
	var b strings.Builder
	for line := range strings.SplitSeq(string(raw), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var v struct {
			Choices []struct{ Delta struct{ Content string } }
		}
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		for _, c := range v.Choices {
			b.WriteString(c.Delta.Content)
		}
	}
	return b.String()
}
