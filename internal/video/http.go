package video

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Request limits of POST /v1/videos.
const (
	maxCreateBody = 16 << 20 // multipart bodies may carry an input_reference (refused)
	maxPrompt     = 16 << 10
	defaultSecs   = "4"        // OpenAI's default
	defaultSize   = "720x1280" // OpenAI's default
)

// Object is OpenAI's video object.
type Object struct {
	ID                 string       `json:"id"`
	Object             string       `json:"object"`
	Model              string       `json:"model"`
	Status             string       `json:"status"`
	Progress           int          `json:"progress"`
	CreatedAt          int64        `json:"created_at"`
	CompletedAt        *int64       `json:"completed_at"`
	ExpiresAt          *int64       `json:"expires_at"`
	Prompt             string       `json:"prompt"`
	Seconds            string       `json:"seconds"`
	Size               string       `json:"size"`
	RemixedFromVideoID *string      `json:"remixed_from_video_id"`
	Error              *ObjectError `json:"error"`
}

// ObjectError is the error of a failed video.
type ObjectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func objectOf(j *store.VideoJob) Object {
	o := Object{ID: j.ID, Object: "video", Model: j.Model, Status: j.Status, Progress: j.Progress,
		CreatedAt: j.CreatedAt.Unix(), Prompt: j.Prompt, Seconds: j.Seconds, Size: j.Size}
	if j.Status == store.VideoCompleted {
		t := j.DoneAt.Unix()
		o.CompletedAt = &t
	}
	if j.Status == store.VideoFailed {
		o.Error = &ObjectError{Code: j.ErrCode, Message: j.ErrMsg}
	}
	return o
}

type createRequest struct {
	Prompt  string `json:"prompt"`
	Model   string `json:"model"`
	Seconds string `json:"seconds"`
	Size    string `json:"size"`
}

// CreateHandler serves POST /v1/videos (JSON or multipart/form-data).
func (s *Service) CreateHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, p := decodeCreate(w, r)
		if p != nil {
			writeProblem(w, p)
			return
		}
		model, p := s.pickModel(r.Context(), req.Model)
		if p != nil {
			writeProblem(w, p)
			return
		}
		now := s.opts.Now()
		j := &store.VideoJob{ID: api.RandomID("video_", 32), Model: model, Prompt: req.Prompt,
			Seconds: req.Seconds, Size: req.Size, Status: store.VideoQueued, CreatedAt: now, UpdatedAt: now}
		if err := s.store.PutVideo(r.Context(), j); err != nil {
			s.log.Error("videos: cannot store job", "err", err)
			writeProblem(w, &api.Problem{Status: http.StatusInternalServerError, Class: api.ClassServer,
				Code: "store_error", Message: "the relay could not store the video job; see its log"})
			return
		}
		s.enqueue(j.ID)
		writeJSON(w, http.StatusOK, objectOf(j))
	})
}

func decodeCreate(w http.ResponseWriter, r *http.Request) (*createRequest, *api.Problem) {
	r.Body = http.MaxBytesReader(w, r.Body, maxCreateBody)
	var req createRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return nil, bodyProblem(err, "the multipart body cannot be read")
		}
		defer r.MultipartForm.RemoveAll()
		if len(r.MultipartForm.File["input_reference"]) > 0 {
			return nil, api.Invalid("unsupported_parameter", "input_reference",
				"input_reference is not supported: the upstream generates videos from text only")
		}
		form := r.MultipartForm.Value
		first := func(k string) string {
			if v := form[k]; len(v) > 0 {
				return v[0]
			}
			return ""
		}
		req = createRequest{Prompt: first("prompt"), Model: first("model"), Seconds: first("seconds"), Size: first("size")}
	case "application/json", "":
		var raw map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
			return nil, bodyProblem(err, "the body is not a JSON object")
		}
		if _, ok := raw["input_reference"]; ok {
			return nil, api.Invalid("unsupported_parameter", "input_reference",
				"input_reference is not supported: the upstream generates videos from text only")
		}
		for k, dst := range map[string]*string{"prompt": &req.Prompt, "model": &req.Model, "seconds": &req.Seconds, "size": &req.Size} {
			if v, ok := raw[k]; ok && string(v) != "null" && json.Unmarshal(v, dst) != nil {
				return nil, api.Invalid("invalid_type", k, "%s must be a string", k)
			}
		}
	default:
		return nil, &api.Problem{Status: http.StatusUnsupportedMediaType, Class: api.ClassInvalidRequest,
			Code: "unsupported_media_type", Message: "send application/json or multipart/form-data"}
	}
	return &req, validate(&req)
}

func bodyProblem(err error, msg string) *api.Problem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &api.Problem{Status: http.StatusRequestEntityTooLarge, Class: api.ClassInvalidRequest,
			Code: "request_too_large", Message: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)}
	}
	return api.Invalid("invalid_body", "", "%s", msg)
}

// validate checks and completes a create request. seconds and size are
// kept as asked: the upstream has no duration setting, and size becomes
// the nearest aspect ratio (ratioOf).
func validate(req *createRequest) *api.Problem {
	req.Prompt = strings.TrimSpace(req.Prompt)
	switch {
	case req.Prompt == "":
		return api.Invalid("missing_required_parameter", "prompt", "prompt is required")
	case len(req.Prompt) > maxPrompt:
		return api.Invalid("string_above_max_length", "prompt", "prompt is longer than %d bytes", maxPrompt)
	}
	if req.Seconds == "" {
		req.Seconds = defaultSecs
	}
	if n, err := strconv.Atoi(req.Seconds); err != nil || n < 1 || n > 60 {
		return api.Invalid("invalid_value", "seconds", "seconds must be a whole number of seconds from 1 to 60, e.g. \"4\"")
	}
	if req.Size == "" {
		req.Size = defaultSize
	}
	if _, _, ok := dims(req.Size); !ok {
		return api.Invalid("invalid_value", "size", "size must be WIDTHxHEIGHT, e.g. \"1280x720\"")
	}
	return nil
}

func dims(size string) (w, h int, ok bool) {
	a, b, found := strings.Cut(strings.ToLower(size), "x")
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	return w, h, found && err1 == nil && err2 == nil && w > 0 && h > 0 && w <= 8192 && h <= 8192
}

// ratios are the aspect ratios the upstream takes for generated media
// (docs/qwen-protocol.md §6.5).
var ratios = []struct {
	name string
	v    float64
}{{"16:9", 16.0 / 9}, {"9:16", 9.0 / 16}, {"1:1", 1}, {"4:3", 4.0 / 3}, {"3:4", 3.0 / 4}}

// ratioOf maps "WxH" to the nearest upstream aspect ratio ("" for none).
func ratioOf(size string) string {
	w, h, ok := dims(size)
	if !ok {
		return ""
	}
	v, best, bestD := float64(w)/float64(h), "", 0.0
	for _, r := range ratios {
		d := max(v/r.v, r.v/v)
		if best == "" || d < bestD {
			best, bestD = r.name, d
		}
	}
	return best
}

// pickModel resolves the requested model: "" or an OpenAI video model name
// (sora-…) means the first upstream model whose chat types list t2v.
func (s *Service) pickModel(ctx context.Context, asked string) (string, *api.Problem) {
	models, err := s.models(ctx)
	if err != nil {
		return "", api.ProblemOf(err, false)
	}
	wantDefault := asked == "" || strings.HasPrefix(strings.ToLower(asked), "sora")
	for _, m := range models {
		switch {
		case wantDefault && m.Video:
			return m.ID, nil
		case !wantDefault && strings.EqualFold(m.ID, asked):
			if !m.Video {
				return "", api.Invalid("model_not_supported", "model", "the model %q cannot generate videos", asked)
			}
			return m.ID, nil
		}
	}
	if wantDefault {
		return "", &api.Problem{Status: http.StatusServiceUnavailable, Class: api.ClassServer,
			Code: "no_video_model", Message: "no upstream model offers video generation"}
	}
	return "", &api.Problem{Status: http.StatusNotFound, Class: api.ClassInvalidRequest, Code: "model_not_found",
		Param: "model", Message: fmt.Sprintf("the model %q does not exist", asked)}
}
