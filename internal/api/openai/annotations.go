package openai

import (
	"encoding/json"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// Annotation is one url_citation annotation of an assistant message, as
// OpenAI's search models send them.
type Annotation struct {
	Type        string      `json:"type"` // "url_citation"
	URLCitation URLCitation `json:"url_citation"`
}

// URLCitation is a web source and the span of the answer it supports. The
// upstream names its sources for the whole answer, not for a span
// (docs/qwen-protocol.md §3.5), so every citation spans the whole answer:
// start_index 0, end_index its length in characters (Unicode code points).
type URLCitation struct {
	URL        string `json:"url"`
	Title      string `json:"title"`
	StartIndex int    `json:"start_index"`
	EndIndex   int    `json:"end_index"`
}

// Annotations renders citations over an answer of n characters; nil when
// there are none.
func Annotations(cites []api.Citation, n int) []Annotation {
	if len(cites) == 0 {
		return nil
	}
	out := make([]Annotation, len(cites))
	for i, c := range cites {
		out[i] = Annotation{Type: "url_citation", URLCitation: URLCitation{URL: c.URL, Title: c.Title, EndIndex: n}}
	}
	return out
}

// appendAnnotationChunk appends a chunk whose delta carries the
// annotations (an empty content keeps clients that expect content happy).
func appendAnnotationChunk(dst []byte, h *ChunkHeader, role string, anns []Annotation) []byte {
	dst = appendChunkHead(dst, h)
	dst = append(dst, `"choices":[{"index":0,"delta":{`...)
	if role != "" {
		dst = append(dst, `"role":`...)
		dst = AppendString(dst, role)
		dst = append(dst, ',')
	}
	dst = append(dst, `"content":"","annotations":`...)
	b, err := json.Marshal(anns)
	if err != nil { // plain strings and ints: cannot fail
		b = []byte("[]")
	}
	dst = append(dst, b...)
	return append(dst, `},"logprobs":null,"finish_reason":null}]}`...)
}
