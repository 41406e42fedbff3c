package anthropic

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// Web search answers (docs/qwen-protocol.md §3.5, §6.2): the upstream
// searched by itself before answering and named its sources, but not which
// sentence each supports. They are rendered as Anthropic's own web search
// renders a search: a server_tool_use block (name web_search, input
// {query}: the latest user text, as the upstream's query is not known)
// followed by a web_search_tool_result block listing the sources as
// web_search_result items (url, title; encrypted_content empty and
// page_age null, which the relay does not have). Both blocks come before
// the text, where the search happened. anthropic-sdk-go decodes them as
// ServerToolUseBlock and WebSearchToolResultBlock, and the decoder drops
// them again when a client replays the turn. Text blocks carry no
// citations: a web_search_result_location citation needs cited_text and an
// encrypted_index, which would have to be invented.

// webSearchResult is one item of a web_search_tool_result block.
type webSearchResult struct {
	Type             string  `json:"type"` // web_search_result
	URL              string  `json:"url"`
	Title            string  `json:"title"`
	EncryptedContent string  `json:"encrypted_content"`
	PageAge          *string `json:"page_age"`
}

// maxQuery bounds the query shown in server_tool_use (in characters).
const maxQuery = 200

// searchBlocks renders the n-th search of an answer as its two blocks.
func searchBlocks(req *api.Request, meta api.Meta, n int, cites []api.Citation) []wireBlock {
	id := "srvtoolu_" + strings.TrimPrefix(meta.ID, "msg_") + "_" + strconv.Itoa(n)
	input, _ := json.Marshal(map[string]string{"query": query(req)}) // a string map: cannot fail
	results := make([]webSearchResult, len(cites))
	for i, c := range cites {
		results[i] = webSearchResult{Type: "web_search_result", URL: c.URL, Title: c.Title}
	}
	return []wireBlock{
		{Type: "server_tool_use", ID: id, Name: "web_search", Input: input},
		{Type: "web_search_tool_result", ToolUseID: id, Content: results},
	}
}

// query is the latest user text, shortened.
func query(req *api.Request) string {
	if req == nil {
		return ""
	}
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := &req.Messages[i]
		if m.Role != "user" || strings.TrimSpace(m.Text) == "" {
			continue
		}
		q := strings.TrimSpace(m.Text)
		if utf8.RuneCountInString(q) > maxQuery {
			q = string([]rune(q)[:maxQuery])
		}
		return q
	}
	return ""
}

// flushSearch writes the sources gathered so far as a search block pair
// (each block whole: start and stop, no deltas), closing the open block
// first.
func (s *streamEncoder) flushSearch(dst []byte) []byte {
	if len(s.cites) == 0 {
		return dst
	}
	dst = s.closeBlock(dst)
	for _, b := range searchBlocks(s.req, s.meta, s.searches, s.cites) {
		dst = s.startBlock(dst, b, blockNone)
		dst = s.stop(dst)
	}
	s.searches++
	s.cites = nil
	return dst
}
