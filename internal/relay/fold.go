package relay

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/toolcall"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Answer is a whole answer, folded from its stream (non-streaming requests).
type Answer struct {
	Content      string
	Reasoning    string
	Calls        []toolcall.Call
	Citations    []upstream.Citation // web sources, each URL once
	Media        []string            // generated image URLs (image modes)
	Result       upstream.Result
	FinishReason string    // "stop", or what the upstream said, or "content_filter"
	First        time.Time // when the first event arrived (time to first token)
	Attempts     int
	CredentialID string
	AccountID    int64
}

// Complete answers a non-streaming request. Nothing reaches the client
// before the whole answer is in, so unlike Open it also retries a failure
// in the middle of the answer, under the same policy, attempts and budget.
// A content filter that cuts an answer short keeps what came before it,
// with finish reason "content_filter".
func (r *Relay) Complete(ctx context.Context, picker Picker, req *upstream.ChatRequest) (*Answer, error) {
	t := r.newTries(req)
	for {
		st, err := t.open(ctx, picker, req)
		if err != nil {
			return nil, err
		}
		ans, err := r.fold(st)
		_ = st.Close()
		if err == nil {
			return ans, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if upstream.KindOf(err) == upstream.KindContentFilter && (ans.Content != "" || len(ans.Calls) > 0) {
			ans.FinishReason = "content_filter"
			return ans, nil
		}
		if !t.failed(ctx, st.CredentialID, err) {
			return nil, err
		}
	}
}

// fold reads the rest of an opened stream into an Answer; on a failure the
// Answer holds what came before it.
func (r *Relay) fold(st *Stream) (*Answer, error) {
	ans := &Answer{Attempts: st.Attempts, CredentialID: st.CredentialID, AccountID: st.AccountID()}
	var content, reasoning strings.Builder
	defer func() {
		ans.Content, ans.Reasoning = content.String(), reasoning.String()
	}()
	for first := true; ; first = false {
		ev, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ans, err
		}
		if first {
			ans.First = r.now()
		}
		switch ev.Type {
		case upstream.EventReasoning:
			reasoning.WriteString(ev.Text)
		case upstream.EventToolCall:
			ans.Calls = append(ans.Calls, *ev.Call)
		case upstream.EventCitation:
			ans.Citations = append(ans.Citations, *ev.Citation)
		case upstream.EventMedia:
			ans.Media = append(ans.Media, ev.Text)
		default:
			content.WriteString(ev.Text)
		}
	}
	ans.Result = st.Result()
	ans.FinishReason = ans.Result.FinishReason
	if ans.FinishReason == "" {
		ans.FinishReason = "stop"
	}
	return ans, nil
}
