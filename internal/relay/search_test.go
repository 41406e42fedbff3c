package relay

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func cite(url string) upstream.Event {
	return upstream.Event{Type: upstream.EventCitation, Citation: &upstream.Citation{URL: url, Title: "t"}}
}

// Search sources alone are not an answer: a stream that lists sources and
// ends is retried, like one that only reasoned.
func TestCitationsAloneAreNoAnswer(t *testing.T) {
	sourcesOnly := func() (upstream.Stream, error) {
		return &upstream.SliceStream{Events: []upstream.Event{cite("https://a.example/1")}}, nil
	}
	answer := func() (upstream.Stream, error) {
		return &upstream.SliceStream{Events: []upstream.Event{cite("https://a.example/1"), cite("https://b.example/2"),
			{Type: upstream.EventContent, Text: "hi"}}}, nil
	}
	t.Run("stream", func(t *testing.T) {
		p := &scripted{plan: []func() (upstream.Stream, error){sourcesOnly, answer}}
		r := New(p, Options{Attempts: 2, Backoff: time.Millisecond}, nil, nil)
		st, err := r.Open(context.Background(), newRotation([]string{"a"}), &upstream.ChatRequest{Model: "m", Search: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var cites []string
		var content string
		for {
			ev, err := st.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == upstream.EventCitation {
				cites = append(cites, ev.Citation.URL)
			} else {
				content += ev.Text
			}
		}
		// The relay passes every attempt's sources on; the server drops
		// the ones already sent.
		if content != "hi" || st.Attempts != 2 || len(cites) != 3 {
			t.Errorf("content %q, cites %v, attempts %d", content, cites, st.Attempts)
		}
	})
	t.Run("complete", func(t *testing.T) {
		p := &scripted{plan: []func() (upstream.Stream, error){sourcesOnly, answer}}
		r := New(p, Options{Attempts: 2, Backoff: time.Millisecond}, nil, nil)
		ans, err := r.Complete(context.Background(), newRotation([]string{"a"}), &upstream.ChatRequest{Model: "m", Search: true})
		if err != nil {
			t.Fatal(err)
		}
		if ans.Content != "hi" || len(ans.Citations) != 2 || ans.Citations[1].URL != "https://b.example/2" {
			t.Errorf("answer %+v", ans)
		}
	})
	t.Run("sources only, no retry left", func(t *testing.T) {
		p := &scripted{plan: []func() (upstream.Stream, error){sourcesOnly}}
		r := New(p, Options{Attempts: 1}, nil, nil)
		if _, err := r.Complete(context.Background(), newRotation([]string{"a"}), &upstream.ChatRequest{Model: "m"}); upstream.KindOf(err) != upstream.KindEmpty {
			t.Errorf("err = %v, want empty", err)
		}
	})
}
