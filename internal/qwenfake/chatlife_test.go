package qwenfake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestChatDelay: chats/new answers after Options.ChatDelay, and a caller
// that leaves first gets no chat.
func TestChatDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{ChatDelay: 400 * time.Millisecond})
		tok := s.MintToken("u1", time.Hour)
		start := time.Now()
		newChatDirect(t, s, tok)
		if got := time.Since(start); got != 400*time.Millisecond {
			t.Fatalf("chats/new took %v, want 400ms", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, "POST", "/api/v2/chats/new",
			strings.NewReader(`{"models":["qwen3.7-plus"],"chat_type":"t2t"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		s.ServeHTTP(httptest.NewRecorder(), req)
		if st := s.Stats(); st.ChatsNew != 1 || st.ChatsAlive != 1 {
			t.Fatalf("stats %+v, want only the first chat", st)
		}
	})
}

// TestChatExpiry: an unused chat is Not_Found once Options.ChatExpiry has
// passed; a used one stays.
func TestChatExpiry(t *testing.T) {
	tests := []struct {
		name     string
		wait     time.Duration
		useFirst bool
		want     int
	}{
		{"fresh", 29 * time.Second, false, http.StatusOK},
		{"expired", 30 * time.Second, false, http.StatusNotFound},
		{"used, then idle", time.Hour, true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := New(Options{ChatExpiry: 30 * time.Second})
				tok := s.MintToken("u1", time.Hour)
				id := newChatDirect(t, s, tok)
				if tt.useFirst {
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, completionRequestFor(t, id, tok, "hi"))
					if rec.Code != http.StatusOK {
						t.Fatalf("first completion: %d", rec.Code)
					}
				}
				time.Sleep(tt.wait)
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, completionRequestFor(t, id, tok, "hi"))
				if rec.Code != tt.want {
					t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
				}
				if tt.want == http.StatusNotFound && !strings.Contains(rec.Body.String(), "Not_Found") {
					t.Fatalf("body %s, want Not_Found", rec.Body)
				}
				st := s.Stats()
				expired := int64(0)
				if tt.want == http.StatusNotFound {
					expired = 1
				}
				if st.ChatsExpired != expired || st.ChatsAlive != 1-expired {
					t.Fatalf("stats %+v", st)
				}
			})
		})
	}
}

// TestChatExpiryStats: Stats does not count expired chats as alive, even
// when nobody asked for them since.
func TestChatExpiryStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{ChatExpiry: time.Minute})
		tok := s.MintToken("u1", time.Hour)
		for range 3 {
			newChatDirect(t, s, tok)
		}
		time.Sleep(time.Minute)
		if st := s.Stats(); st.ChatsAlive != 0 || st.ChatsExpired != 3 || st.ChatsNew != 3 {
			t.Fatalf("stats %+v", st)
		}
	})
}
