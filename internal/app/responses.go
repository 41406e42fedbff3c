package app

import (
	"log/slog"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api/responses"
	"github.com/qwenrelay/qwenrelay/internal/server"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// responsesSurface is the OpenAI Responses API: POST /v1/responses and the
// stored answers (GET, DELETE /v1/responses/{id}), kept in st for
// retention (0 = responses.DefaultRetention); webSearch: a web_search tool
// switches on the upstream's search mode.
func responsesSurface(st store.ResponseStore, retention time.Duration, webSearch bool, log *slog.Logger) server.Surface {
	return server.Surface{
		Route: "responses",
		Codec: responses.New(st, retention, responses.WithLogger(log), responses.WithWebSearch(webSearch)),
		Paths: []string{"/v1/responses", "/responses"},
		Extra: []server.Route{
			{Route: "responses_get", Pattern: "GET /v1/responses/{id}", Handler: responses.GetHandler(st)},
			{Route: "responses_delete", Pattern: "DELETE /v1/responses/{id}", Handler: responses.DeleteHandler(st)},
		},
	}
}
