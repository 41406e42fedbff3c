package anthropic

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// mediaBlock reads an image or document block of a user turn into an
// unresolved api.Media (the server fetches or decodes it). Sources: base64
// (media_type + data), url, and for documents plain text.
func mediaBlock(raw json.RawMessage, path, typ string) (api.Media, error) {
	var b struct {
		Title  string `json:"title"`
		Source *struct {
			Type      string `json:"type"`
			MediaType string `json:"media_type"`
			Data      string `json:"data"`
			URL       string `json:"url"`
			FileID    string `json:"file_id"`
		} `json:"source"`
	}
	if err := into(raw, path, &b); err != nil {
		return api.Media{}, err
	}
	kind := api.MediaImage
	if typ == "document" {
		kind = api.MediaFile
	}
	if b.Source == nil {
		return api.Media{}, api.Invalid("missing_required_parameter", path+".source", "%s.source: field required", path)
	}
	s := b.Source
	m := api.Media{Kind: kind, Filename: b.Title}
	spath := path + ".source"
	switch s.Type {
	case "base64":
		if s.Data == "" || s.MediaType == "" {
			return api.Media{}, api.Invalid("missing_required_parameter", spath, "%s: a base64 source needs media_type and data", spath)
		}
		m.Source, m.MediaType = s.Data, s.MediaType
	case "url":
		u := strings.TrimSpace(s.URL)
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return api.Media{}, api.Invalid("invalid_value", spath+".url", "%s.url: expected an http(s) URL", spath)
		}
		m.Source = u
	case "text":
		if kind != api.MediaFile {
			return api.Media{}, api.Invalid("invalid_value", spath+".type", "%s.type: text sources are for documents", spath)
		}
		mt := s.MediaType
		if mt == "" {
			mt = "text/plain"
		}
		m.Source, m.MediaType = base64.StdEncoding.EncodeToString([]byte(s.Data)), mt
	case "file":
		return api.Media{}, api.Invalid("unsupported_content", spath+".type",
			"%s: file_id sources are not supported (this relay has no Files API); send the content as base64 or a URL", spath)
	default:
		return api.Media{}, api.Invalid("invalid_value", spath+".type", "%s.type: %q is not a supported source (base64, url or text)", spath, s.Type)
	}
	return m, nil
}
