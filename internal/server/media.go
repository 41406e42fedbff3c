package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/media"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// maxAttachments bounds the images and files of one turn.
const maxAttachments = 16

// imageTypes is what an image part may hold.
var imageTypes = []string{"image/*"}

// lastUserTurn is the index of the last user message, -1 when none: its
// media are uploaded; earlier turns' media are only named in their text.
func lastUserTurn(msgs []api.Message) int {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return i
		}
	}
	return -1
}

// mediaNote is what stands for an earlier turn's attachment in the
// flattened history: the model saw it when that turn was answered (as an
// upload of that request); re-uploading every past image on every turn
// would multiply the cost, so only its name is kept. Data URIs never go
// into the text.
func mediaNote(m *api.Media) string {
	kind := "file"
	if m.Kind == api.MediaImage {
		kind = "image"
	}
	name := m.Filename
	if name == "" && (strings.HasPrefix(m.Source, "http://") || strings.HasPrefix(m.Source, "https://")) {
		name = m.Source
		if len(name) > 200 {
			name = name[:200] + "…"
		}
	}
	if name == "" {
		return "[" + kind + " attached earlier]"
	}
	return "[" + kind + " attached earlier: " + name + "]"
}

// namedMedia are the attachments of m that are only named in the text:
// all of an earlier turn's, and of the last user turn those without a
// source (a stored conversation keeps no data: URI).
func namedMedia(m *api.Message, last bool) []*api.Media {
	var out []*api.Media
	for j := range m.Media {
		if !last || m.Media[j].Source == "" {
			out = append(out, &m.Media[j])
		}
	}
	return out
}

// resolveMedia fetches or decodes the media of the last user turn into
// upstream files. Any failure is a Problem in the surface's shape: 400 for
// a bad or refused medium, 413 for one over the size limit.
func (s *Server) resolveMedia(ctx context.Context, req *api.Request) ([]upstream.File, error) {
	i := lastUserTurn(req.Messages)
	if i < 0 || len(req.Messages[i].Media) == 0 {
		return nil, nil
	}
	var md []api.Media
	for _, m := range req.Messages[i].Media {
		if m.Source != "" {
			md = append(md, m)
		}
	}
	if len(md) > maxAttachments {
		return nil, api.Invalid("too_many_attachments", "", "a message may carry at most %d images and files (got %d)", maxAttachments, len(md))
	}
	out := make([]upstream.File, 0, len(md))
	for j := range md {
		f, err := s.resolveOne(ctx, &md[j])
		if err != nil {
			return nil, mediaProblem(err, j)
		}
		out = append(out, f)
	}
	return out, nil
}

func (s *Server) resolveOne(ctx context.Context, m *api.Media) (upstream.File, error) {
	f := s.mediaFetcher() // a copy: AllowedTypes is set per part
	if m.Kind == api.MediaImage {
		f.AllowedTypes = imageTypes
	}
	var (
		got *media.Media
		err error
	)
	src := m.Source
	switch {
	case hasScheme(src, "http://") || hasScheme(src, "https://"):
		got, err = f.Fetch(ctx, src)
	default:
		if m.MediaType != "" && !hasScheme(src, "data:") {
			src = "data:" + m.MediaType + ";base64," + src
		}
		got, err = media.FilePart{Filename: m.Filename, FileData: src}.Decode(f.MaxBytes, f.AllowedTypes)
	}
	if err != nil {
		return upstream.File{}, err
	}
	if m.Filename != "" {
		got.Filename = media.SafeFilename(m.Filename, got.ContentType)
	}
	switch got.Kind() {
	case media.KindImage:
		return upstream.File{Name: got.Filename, ContentType: got.ContentType, Data: got.Data, Kind: upstream.FileImage}, nil
	case media.KindAudio, media.KindVideo:
		return upstream.File{}, &media.Error{Code: media.CodeUnsupportedType,
			Message: fmt.Sprintf("%s attachments are not supported: send images or documents", got.Kind())}
	}
	return upstream.File{Name: got.Filename, ContentType: got.ContentType, Data: got.Data, Kind: upstream.FileDocument}, nil
}

func hasScheme(s, scheme string) bool {
	return len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme)
}

// mediaFetcher is a copy of the configured fetcher (the zero Fetcher when
// none was given: public addresses only, default limits).
func (s *Server) mediaFetcher() media.Fetcher {
	if s.opts.Media == nil {
		return media.Fetcher{}
	}
	return *s.opts.Media
}

// mediaProblem turns a media failure into the client's error.
func mediaProblem(err error, j int) error {
	var me *media.Error
	if !errors.As(err, &me) {
		return err
	}
	status := me.HTTPStatus()
	if status == StatusClientClosed {
		return context.Canceled
	}
	class := api.ClassInvalidRequest
	return &api.Problem{Status: status, Class: class, Code: "invalid_media_" + string(me.Code),
		Message: fmt.Sprintf("attachment #%d of the last user message: %s", j+1, me.Message), Kind: "invalid_media"}
}
