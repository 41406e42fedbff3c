package openai

import (
	"strconv"
	"unicode/utf8"
)

// Usage is OpenAI's usage object.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails breaks down prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// CompletionTokensDetails breaks down completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// ChatCompletion is a non-streamed answer.
type ChatCompletion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   *Usage   `json:"usage,omitempty"`
}

// Choice is one answer of a ChatCompletion.
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is the assistant message of a ChatCompletion. Content is
// null when the answer is only tool calls.
type ResponseMessage struct {
	Role             string     `json:"role"`
	Content          *string    `json:"content"`
	ReasoningContent string     `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	// Annotations are the url_citation sources of a web search answer.
	Annotations []Annotation `json:"annotations,omitempty"`
}

// Model is one entry of the model list.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the answer of GET /v1/models.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

// ChunkHeader is what every chunk of one stream shares.
type ChunkHeader struct {
	ID      string
	Created int64
	Model   string
}

// Delta kinds for AppendChunk.
const (
	DeltaContent   = "content"
	DeltaReasoning = "reasoning_content"
)

// AppendChunk appends the JSON of a chat.completion.chunk with one delta to
// dst. field is DeltaContent or DeltaReasoning; role is set only on the first
// chunk. It allocates nothing beyond growing dst.
func AppendChunk(dst []byte, h *ChunkHeader, role, field, text string) []byte {
	dst = appendChunkHead(dst, h)
	dst = append(dst, `"choices":[{"index":0,"delta":{`...)
	if role != "" {
		dst = append(dst, `"role":`...)
		dst = AppendString(dst, role)
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, field...)
	dst = append(dst, `":`...)
	dst = AppendString(dst, text)
	return append(dst, `},"logprobs":null,"finish_reason":null}]}`...)
}

// AppendFinishChunk appends the final chunk carrying finish_reason.
func AppendFinishChunk(dst []byte, h *ChunkHeader, role, finishReason string) []byte {
	dst = appendChunkHead(dst, h)
	dst = append(dst, `"choices":[{"index":0,"delta":{`...)
	if role != "" {
		dst = append(dst, `"role":`...)
		dst = AppendString(dst, role)
		dst = append(dst, `,"content":""`...)
	}
	dst = append(dst, `},"logprobs":null,"finish_reason":`...)
	dst = AppendString(dst, finishReason)
	return append(dst, `}]}`...)
}

// AppendUsageChunk appends the usage chunk (empty choices), as OpenAI sends
// it when stream_options.include_usage is set.
func AppendUsageChunk(dst []byte, h *ChunkHeader, u *Usage) []byte {
	dst = appendChunkHead(dst, h)
	dst = append(dst, `"choices":[],"usage":`...)
	return append(AppendUsage(dst, u), '}')
}

// AppendUsage appends a usage object.
func AppendUsage(dst []byte, u *Usage) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.PromptTokens), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CompletionTokens), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.TotalTokens), 10)
	if u.PromptTokensDetails != nil {
		dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
		dst = strconv.AppendInt(dst, int64(u.PromptTokensDetails.CachedTokens), 10)
		dst = append(dst, '}')
	}
	if u.CompletionTokensDetails != nil {
		dst = append(dst, `,"completion_tokens_details":{"reasoning_tokens":`...)
		dst = strconv.AppendInt(dst, int64(u.CompletionTokensDetails.ReasoningTokens), 10)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendChunkHead(dst []byte, h *ChunkHeader) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, h.ID)
	dst = append(dst, `,"object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, h.Created, 10)
	dst = append(dst, `,"model":`...)
	dst = AppendString(dst, h.Model)
	dst = append(dst, `,"system_fingerprint":null,`...)
	return dst
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, and
// U+2028/U+2029 are escaped so the output is also valid JavaScript.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
