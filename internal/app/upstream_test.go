package app

import (
	"context"
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
// left behind by default, and that delete_chats=false keeps them.
func TestRelayLeavesNoChats(t *testing.T) {
	texts := []string{
		"hi [[qwenfake tokens=3]]",
		"hi [[qwenfake tokens=3 seed=b]]",
		"hi [[qwenfake fail=content_filter]]",
		"hi [[qwenfake tokens=2 dual=1]]",
	}
	for _, del := range []bool{true, false} {
		t.Run(fmt.Sprintf("delete_chats=%v", del), func(t *testing.T) {
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
			a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a.Handler)
			tr := &http.Transport{}
			var wg sync.WaitGroup
			for _, text := range texts {
				wg.Add(1)
				go func() {
					defer wg.Done()
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
			if st.ChatsNew < int64(len(texts)) {
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
