package video

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// GetHandler serves GET /v1/videos/{id}: the video object.
func (s *Service) GetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j, p := s.load(r.Context(), r.PathValue("id"))
		if p != nil {
			writeProblem(w, p)
			return
		}
		writeJSON(w, http.StatusOK, objectOf(j))
	})
}

// ContentHandler serves GET /v1/videos/{id}/content: the mp4, proxied from
// the upstream's URL with a size and a time limit. Like OpenAI, a video
// that is not completed is a 404 (queued, in progress or failed); only
// variant=video exists (thumbnail and spritesheet are 400).
func (s *Service) ContentHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("variant"); v != "" && v != "video" {
			writeProblem(w, api.Invalid("unsupported_parameter", "variant", "only variant=video is available"))
			return
		}
		j, p := s.load(r.Context(), r.PathValue("id"))
		if p != nil {
			writeProblem(w, p)
			return
		}
		if j.Status != store.VideoCompleted {
			msg := "Video is not ready yet; its status is " + j.Status + "."
			if j.Status == store.VideoFailed {
				msg = "Video generation failed, there is no content: " + j.ErrMsg
			}
			writeProblem(w, &api.Problem{Status: http.StatusNotFound, Class: api.ClassInvalidRequest,
				Code: "video_not_ready", Message: msg})
			return
		}
		s.relayContent(w, r, j)
	})
}

func (s *Service) relayContent(w http.ResponseWriter, r *http.Request, j *store.VideoJob) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.ContentTimeout)
	defer cancel()
	resp, err := s.provider.OpenVideo(ctx, upstream.Credential{}, j.URL)
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Warn("videos: content fetch failed", "video_id", j.ID, "err", safeMessage(err))
			writeProblem(w, &api.Problem{Status: http.StatusBadGateway, Class: api.ClassUpstream,
				Code: "upstream_error", Message: "the finished video could not be fetched from the upstream: " + safeMessage(err)})
		}
		return
	}
	defer resp.Body.Close()
	if resp.ContentLength > s.opts.MaxBytes {
		writeProblem(w, &api.Problem{Status: http.StatusBadGateway, Class: api.ClassUpstream, Code: "video_too_large",
			Message: "the upstream's video is larger than the relay's limit (" + strconv.FormatInt(s.opts.MaxBytes, 10) + " bytes)"})
		return
	}
	w.Header().Set("Content-Type", "video/mp4")
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, over, err := copyLimited(w, resp.Body, s.opts.MaxBytes)
	if (err != nil || over) && r.Context().Err() == nil {
		// The headers are gone: break the connection so that the client
		// sees a failed transfer, never a short video that looks whole.
		s.log.Warn("videos: content transfer cut", "video_id", j.ID, "over_limit", over, "err", safeMessage(cmpErr(err)))
		panic(http.ErrAbortHandler)
	}
}

func (s *Service) load(ctx context.Context, id string) (*store.VideoJob, *api.Problem) {
	j, err := s.store.GetVideo(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &api.Problem{Status: http.StatusNotFound, Class: api.ClassInvalidRequest, Code: "not_found",
			Param: "video_id", Message: "No video found with id '" + id + "'."}
	}
	if err != nil {
		s.log.Error("videos: store", "video_id", id, "err", err)
		return nil, &api.Problem{Status: http.StatusInternalServerError, Class: api.ClassServer,
			Code: "store_error", Message: "the relay could not read its video jobs; see its log"}
	}
	return j, nil
}

// writeProblem renders p in OpenAI's error shape.
func writeProblem(w http.ResponseWriter, p *api.Problem) {
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(p.RetryAfter.Seconds()))))
	}
	writeJSON(w, p.Status, openai.NewError(string(p.Class), p.Code, p.Param, p.Message))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"encoding failed","type":"server_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may have gone
}

func cmpErr(err error) error {
	if err == nil {
		return errors.New("larger than the limit")
	}
	return err
}
