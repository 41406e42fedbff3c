package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/catalog"
	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/media"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Image downloads for response_format b64_json: the upstream's CDN URL
// (docs/qwen-protocol.md §3.5) is fetched with these limits. It is the
// upstream's address, not a client's, so the SSRF rules of client media
// URLs do not apply.
const (
	imageDownloadTimeout = 60 * time.Second
	maxImageDownload     = 32 << 20
)

// imageRoutes mounts POST /v1/images/generations and /v1/images/edits with
// OpenAI errors.
func (s *Server) imageRoutes(mux *http.ServeMux, route func(string, http.Handler) http.Handler) {
	c := openai.Codec{}
	gen := s.withCodec(c, route("images_generations", http.HandlerFunc(s.handleImageGeneration)))
	edit := s.withCodec(c, route("images_edits", http.HandlerFunc(s.handleImageEdit)))
	for _, p := range []string{"/v1/images/generations", "/images/generations"} {
		mux.Handle(p, methods(gen, http.MethodPost))
	}
	for _, p := range []string{"/v1/images/edits", "/images/edits"} {
		mux.Handle(p, methods(edit, http.MethodPost))
	}
}

func (s *Server) handleImageGeneration(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, s.opts.MaxRequestBytes)
	if err != nil {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = api.Invalid("invalid_body", "", "could not read the request body")
		}
		s.writeError(w, r, err)
		return
	}
	q, err := decodeGeneration(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.serveImages(w, r, q, upstream.ModeT2I)
}

func (s *Server) handleImageEdit(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		s.writeError(w, r, api.Invalid("invalid_content_type", "",
			"send the image edit as multipart/form-data with an image part and a prompt field"))
		return
	}
	maxImage := int64(media.DefaultMaxBytes)
	if s.opts.Media != nil && s.opts.Media.MaxBytes > 0 {
		maxImage = s.opts.Media.MaxBytes
	}
	q, err := decodeEdit(http.MaxBytesReader(w, r.Body, s.opts.MaxRequestBytes), params["boundary"], maxImage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.serveImages(w, r, q, upstream.ModeImageEdit)
}

// serveImages resolves the model, admits the key and runs q.N generations
// (fewer when an answer holds several images) through the relay, so the
// account pool's retries, quotas and cool-downs apply.
func (s *Server) serveImages(w http.ResponseWriter, r *http.Request, q *imageRequest, mode upstream.Mode) {
	ri := info(r.Context())
	m, err := s.imageModel(r, q.Model, mode)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ri.model = m.Public
	if ri.key != nil && s.opts.Keys != nil {
		release, err := s.opts.Keys.Admit(r.Context(), ri.key, m.Upstream.ID)
		if err != nil {
			var le *keys.LimitError
			if errors.As(err, &le) {
				s.metrics.KeyLimit(le.Limit)
			}
			s.writeError(w, r, err)
			return
		}
		defer func() { release(int64(ri.usage.PromptTokens + ri.usage.CompletionTokens)) }()
	}
	picker := s.picker
	if ri.clientCred != nil {
		picker = relay.SinglePicker{Cred: *ri.clientCred}
	}
	ureq := &upstream.ChatRequest{Model: m.Upstream.ID, Mode: mode, Size: q.Ratio, Files: q.Images,
		Messages: []upstream.Message{{Role: "user", Content: q.Prompt}}}
	var urls []string
	for len(urls) < q.N {
		ans, err := s.relay.Complete(r.Context(), picker, ureq)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ri.attempts, ri.credential, ri.accountID = ri.attempts+ans.Attempts, ans.CredentialID, ans.AccountID
		u := ans.Result.Usage
		ri.usage.PromptTokens += u.PromptTokens
		ri.usage.CompletionTokens += u.CompletionTokens
		if len(ans.Media) == 0 {
			s.writeError(w, r, &upstream.Error{Kind: upstream.KindEmpty, Message: "the upstream answered without an image"})
			return
		}
		urls = append(urls, ans.Media...)
	}
	data := make([]map[string]string, 0, q.N)
	for _, u := range urls[:q.N] {
		if !q.B64 {
			data = append(data, map[string]string{"url": u})
			continue
		}
		b, err := downloadImage(r.Context(), u)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		data = append(data, map[string]string{"b64_json": base64.StdEncoding.EncodeToString(b)})
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"created": s.opts.Now().Unix(), "data": data})
}

// imageModel resolves the requested model (aliases apply); none given is
// the first upstream model that offers the mode.
func (s *Server) imageModel(r *http.Request, name string, mode upstream.Mode) (catalog.Model, error) {
	offers := func(m upstream.Model) bool {
		if mode == upstream.ModeImageEdit {
			return m.ImageEdit
		}
		return m.ImageGen
	}
	if name != "" {
		m, err := s.catalog.Resolve(r.Context(), s.fetcher(r), name)
		if err != nil {
			return m, modelProblem(err)
		}
		return m, nil
	}
	list, err := s.catalog.Get(r.Context(), s.fetcher(r))
	if err != nil {
		return catalog.Model{}, err
	}
	for _, m := range list {
		if offers(m.Upstream) {
			return m, nil
		}
	}
	return catalog.Model{}, &api.Problem{Status: http.StatusNotFound, Class: api.ClassInvalidRequest, Code: "model_not_found", Param: "model",
		Message: fmt.Sprintf("no upstream model offers %s; name a model (GET /v1/models lists them)", mode)}
}

// downloadImage fetches a generated image from the upstream's URL with a
// size and a time limit.
func downloadImage(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, imageDownloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &upstream.Error{Kind: upstream.KindBadResponse, Message: "the upstream's image URL is not valid", Err: err}
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		if pe := ctx.Err(); pe != nil && errors.Is(err, pe) && !errors.Is(pe, context.DeadlineExceeded) {
			return nil, pe
		}
		return nil, &upstream.Error{Kind: upstream.KindNetwork, Message: "could not download the generated image", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &upstream.Error{Kind: upstream.KindBadResponse, Status: resp.StatusCode,
			Message: fmt.Sprintf("downloading the generated image answered HTTP %d", resp.StatusCode)}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxImageDownload+1))
	if err != nil {
		return nil, &upstream.Error{Kind: upstream.KindNetwork, Message: "could not download the generated image", Err: err}
	}
	if len(b) > maxImageDownload {
		return nil, &upstream.Error{Kind: upstream.KindBadResponse, Message: fmt.Sprintf("the generated image is larger than %d bytes", maxImageDownload)}
	}
	return b, nil
}
