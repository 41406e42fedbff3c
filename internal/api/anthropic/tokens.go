package anthropic

import (
	"unicode"
	"unicode/utf8"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// perMessage is the estimate's allowance for a message's role markers.
const perMessage = 4

// CountTokens answers POST /v1/messages/count_tokens: it decodes the body
// (a Messages request without max_tokens) and estimates the prompt's tokens
// (see the package doc). A bad body is a *api.Problem.
func CountTokens(body []byte) (int, error) {
	req, err := decode(body, true)
	if err != nil {
		return 0, err
	}
	return estimate(req), nil
}

// estimate counts the prompt as the relay sends it: the tools rendered
// into the system text, earlier calls and results in their trained form.
// Replayed reasoning is not sent, so it is not counted.
func estimate(req *api.Request) int {
	if req == nil {
		return 0
	}
	n := tokens(toolcall.Render(req.Tools, req.ToolChoice, req.Parallel))
	for i := range req.Messages {
		m := &req.Messages[i]
		text := m.Text
		if m.Role == "tool" {
			text = toolcall.RenderResult(m.Text)
		}
		n += perMessage + tokens(text)
		for _, c := range m.ToolCalls {
			n += tokens(toolcall.RenderCall(c))
		}
	}
	return n
}

// tokens estimates one text: a token per CJK character, and one per 4
// bytes of everything else (rounded up).
func tokens(s string) int {
	cjk, other := 0, 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			other++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if isCJK(r) {
			cjk++
		} else {
			other += size
		}
		i += size
	}
	return cjk + (other+3)/4
}

func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}
