package app

import (
	"github.com/qwenrelay/qwenrelay/internal/api/anthropic"
	"github.com/qwenrelay/qwenrelay/internal/server"
)

// anthropicSurface is the Anthropic Messages API: POST /v1/messages (also
// with ?beta=true) and POST /v1/messages/count_tokens, whose body is read
// up to maxBytes.
func anthropicSurface(maxBytes int64) server.Surface {
	count := anthropic.CountTokensHandler(maxBytes)
	return server.Surface{
		Route: "messages",
		Codec: anthropic.New(),
		Paths: []string{"/v1/messages", "/messages"},
		Extra: []server.Route{
			{Route: "count_tokens", Pattern: "POST /v1/messages/count_tokens", Handler: count},
			{Route: "count_tokens", Pattern: "POST /messages/count_tokens", Handler: count},
		},
	}
}
