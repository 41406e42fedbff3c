package qwenfake

import (
	"slices"
	"strconv"
)

// Web search (docs/qwen-protocol.md §3.5, §6.2). A completion asks for it
// with chat_type "search" (top level or on the last message) or
// feature_config.auto_search; a model whose chat types do not list
// "search" answers as usual. The answer then starts, right after
// response.created, with searchFrames web_search frames carrying the
// sources in delta.extra.web_search_info: the lists are cumulative (each
// frame resends the earlier sources and adds some), the first frame has
// role "function" and name "web_search", the others role "assistant",
// all phase "web_search" with empty content; the last one says status
// "finished". The answer text is the same as without search.

// searchFrames is the number of web_search frames of a search answer.
const searchFrames = 3

// SearchSource is one source of a search answer.
type SearchSource struct {
	URL, Title string
}

// SearchSources returns the sources a search answer with this seed lists,
// in order (their URLs are under the reserved .invalid domain: nothing
// can fetch them). Frame i lists the first searchCount(i) of them.
func SearchSources(seed string) []SearchSource {
	h := strconv.FormatUint(seedHash(seed)&0xffffffff, 16)
	return []SearchSource{
		{URL: "https://news.qwenfake.invalid/" + h + "/1", Title: "Qwenfake news: first result"},
		{URL: "https://docs.qwenfake.invalid/" + h + "/2?q=a&b=c", Title: `Docs & "quotes" <tags>`},
		{URL: "https://wiki.qwenfake.invalid/" + h + "/3", Title: "Résumé — 検索 ✓"},
		{URL: "https://blog.qwenfake.invalid/" + h + "/4", Title: ""},
	}
}

// searchCount is how many sources frame i lists (cumulative).
func searchCount(i int) int { return []int{2, 3, 4}[min(i, searchFrames-1)] }

// wantsSearch reports whether a completion asked for the search mode of a
// model that has it.
func (r *completionRequest) wantsSearch(m *Model) bool {
	if m == nil || !slices.Contains(m.ChatTypes, "search") {
		return false
	}
	last := r.last()
	return r.chatType() == "search" || (last != nil && last.FeatureConfig.AutoSearch)
}

// searchFrame writes web_search frame i of a v2 answer.
func (e *v2Encoder) searchFrame(b []byte, i int) []byte {
	if i == 0 {
		b = append(b, `data: {"choices": [{"delta": {"role": "function", "name": "web_search", "content": ""`...)
	} else {
		b = append(b, `data: {"choices": [{"delta": {"role": "assistant", "content": ""`...)
	}
	b = append(b, `, "phase": "web_search", "extra": {"web_search_info": [`...)
	for j, s := range SearchSources(e.p.seed)[:searchCount(i)] {
		if j > 0 {
			b = append(b, ", "...)
		}
		b = append(b, `{"url": "`...)
		b = appendJSONString(b, s.URL, false)
		b = append(b, `", "title": "`...)
		b = appendJSONString(b, s.Title, false)
		b = append(b, `", "snippet": "…", "hostname": "qwenfake.invalid"}`...)
	}
	b = append(b, "]}"...)
	if i == searchFrames-1 {
		b = append(b, finishedMid...)
		b = append(b, e.p.responseID...)
		return append(b, "\"}\n\n"...)
	}
	return e.tail(b)
}
