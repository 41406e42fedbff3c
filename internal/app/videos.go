package app

import (
	"context"
	"log/slog"

	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/server"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
	"github.com/qwenrelay/qwenrelay/internal/video"
)

// newVideos builds the video job service on the pool (jobs need stored
// accounts: the one that submits a task polls it, so there is none in
// passthrough mode).
func newVideos(cfg config.Config, st store.VideoStore, provider *qwen.Client, picker relay.Picker, log *slog.Logger) *video.Service {
	models := func(ctx context.Context) ([]upstream.Model, error) {
		lease, err := picker.Acquire(ctx, relay.Want{})
		if err != nil {
			return nil, err
		}
		list, err := provider.ListModels(ctx, lease.Credential())
		lease.Release(err)
		return list, err
	}
	return video.New(video.Options{
		PollInterval: cfg.VideoPollInterval, MaxDuration: cfg.VideoMaxDuration,
		Concurrency: cfg.VideoConcurrency, MaxBytes: cfg.VideoMaxBytes,
	}, st, provider, picker, models, log)
}

// videosSurface is OpenAI's Videos API: POST /v1/videos, GET
// /v1/videos/{id} and GET /v1/videos/{id}/content (errors in OpenAI's shape).
func videosSurface(v *video.Service) server.Surface {
	return server.Surface{
		Route: "videos",
		Codec: openai.Codec{},
		Extra: []server.Route{
			{Route: "videos_create", Pattern: "POST /v1/videos", Handler: v.CreateHandler()},
			{Route: "videos_get", Pattern: "GET /v1/videos/{id}", Handler: v.GetHandler()},
			{Route: "videos_content", Pattern: "GET /v1/videos/{id}/content", Handler: v.ContentHandler()},
		},
	}
}
