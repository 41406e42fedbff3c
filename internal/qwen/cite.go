package qwen

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// maxCitations bounds the sources kept from one answer, so a runaway
// stream of search frames cannot grow the dedupe set without limit.
const maxCitations = 256

// cite emits the web sources a frame lists in extra.web_search_info
// (docs/qwen-protocol.md §3.5): whatever the frame's role, phase or name,
// and whether the list is cumulative (resent whole) or new items only,
// each URL is emitted once per answer, in first-seen order. Items
// without an http(s) URL are skipped. The frame's text is untouched:
// search frames never become answer text.
func (s *stream) cite(extra gjson.Result) {
	if !extra.IsObject() {
		return
	}
	info := extra.Get("web_search_info")
	if !info.IsArray() {
		return
	}
	info.ForEach(func(_, v gjson.Result) bool {
		if len(s.cited) >= maxCitations {
			return false
		}
		u := strings.ToValidUTF8(strings.TrimSpace(v.Get("url").String()), "\uFFFD")
		if !isWebURL(u) || s.cited[u] {
			return true
		}
		if s.cited == nil {
			s.cited = make(map[string]bool)
		}
		// The frame's buffer is reused after this call (frames.go, view):
		// the key and the event own copies of the strings.
		u = strings.Clone(u)
		s.cited[u] = true
		title := strings.ToValidUTF8(strings.TrimSpace(v.Get("title").String()), "\uFFFD")
		c := &upstream.Citation{URL: u, Title: strings.Clone(title)}
		s.queue = append(s.queue, upstream.Event{Type: upstream.EventCitation, Citation: c})
		return true
	})
}

func isWebURL(u string) bool {
	l := strings.ToLower(u)
	return (strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")) && len(u) <= 4096
}
