package qwen

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// image handles an image_gen frame (docs/qwen-protocol.md §3.5): its
// content is the whole image URL, resent while status is typing; each
// distinct URL is emitted once as EventMedia. status finished ends the
// answer.
func (h *v2Handler) image(s *stream, d delta) {
	if u := strings.TrimSpace(d.content.Str); isImageURL(u) && u != h.lastImage {
		h.lastImage = strings.Clone(u)
		s.emit(upstream.EventMedia, h.lastImage)
	}
	if d.status.Str == "finished" {
		h.done = true
	}
}

// isImageURL accepts the absolute http(s) URLs an image_gen frame carries.
func isImageURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// imageStream is the stream of a t2i or image_edit answer. When the
// upstream's stream ends without an image URL, the URL is looked up in the
// chat's detail, as R does (docs/qwen-protocol.md §6.3); only then is the
// chat released (deleted, when configured), so the lookup can still see it.
type imageStream struct {
	st      *stream
	ctx     context.Context
	lookup  func(ctx context.Context) (string, error)
	release func()
	once    sync.Once
	media   bool
	tried   bool
	found   bool // the URL came from the chat detail: the answer is complete
}

func (c *Client) imageStream(ctx context.Context, cred upstream.Credential, chatID string, st *stream) upstream.Stream {
	release := st.onRelease
	st.onRelease = nil
	return &imageStream{
		st: st, ctx: ctx, release: release,
		lookup: func(ctx context.Context) (string, error) { return c.chatImage(ctx, cred, chatID) },
	}
}

// Next implements upstream.Stream.
func (s *imageStream) Next() (upstream.Event, error) {
	if s.found {
		return upstream.Event{}, io.EOF
	}
	ev, err := s.st.Next()
	if err == nil {
		s.media = s.media || ev.Type == upstream.EventMedia
		return ev, nil
	}
	if s.media || s.tried || !fallbackCase(err) {
		s.done()
		return ev, err
	}
	s.tried = true
	u, lerr := s.lookup(s.ctx)
	s.done()
	if lerr != nil {
		return upstream.Event{}, errors.Join(err, lerr)
	}
	if u == "" {
		return upstream.Event{}, err
	}
	s.media, s.found = true, true
	return upstream.Event{Type: upstream.EventMedia, Text: u}, nil
}

// fallbackCase: a stream that ended without any answer (KindEmpty).
func fallbackCase(err error) bool {
	ue, ok := upstream.AsError(err)
	return ok && ue.Kind == upstream.KindEmpty
}

func (s *imageStream) done() {
	s.once.Do(func() {
		if s.release != nil {
			s.release()
		}
	})
}

// Result implements upstream.Stream.
func (s *imageStream) Result() upstream.Result { return s.st.Result() }

// Close implements upstream.Stream.
func (s *imageStream) Close() error {
	err := s.st.Close()
	s.done()
	return err
}

// chatImage reads the chat detail (docs/qwen-protocol.md §3.6) and returns
// the URL of the last image_gen entry of an assistant message, "" if none.
func (c *Client) chatImage(ctx context.Context, cred upstream.Credential, chatID string) (string, error) {
	answer, err := c.jsonCall(ctx, cred, http.MethodGet, "/api/v2/chats/"+url.PathEscape(chatID), "/c/"+url.PathEscape(chatID), nil)
	if err != nil {
		return "", redact(err, cred.Token)
	}
	found := ""
	gjson.GetBytes(answer, "data.chat.messages").ForEach(func(_, m gjson.Result) bool {
		if m.Get("role").Str != "assistant" {
			return true
		}
		m.Get("content_list").ForEach(func(_, e gjson.Result) bool {
			if e.Get("phase").Str == "image_gen" && isImageURL(e.Get("content").Str) {
				found = e.Get("content").Str
			}
			return true
		})
		return true
	})
	return found, nil
}
