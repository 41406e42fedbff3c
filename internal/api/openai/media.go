package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/media"
)

// imageURL is the payload of an image_url part: {"url": …, "detail": …}, or
// (as some clients send it) the URL as a bare string.
type imageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// partMedia returns the medium of an image_url or file part (nothing is
// fetched or decoded here: the server does that), or a RequestError.
func partMedia(p *ContentPart, param string) (api.Media, error) {
	switch p.Type {
	case "image_url":
		raw := bytes.TrimSpace(p.ImageURL)
		var u imageURL
		if len(raw) > 0 && raw[0] == '"' {
			if err := json.Unmarshal(raw, &u.URL); err != nil {
				return api.Media{}, badPart(param+".image_url", "'image_url' must be an object with a url")
			}
		} else if len(raw) == 0 || json.Unmarshal(raw, &u) != nil {
			return api.Media{}, badPart(param+".image_url", "'image_url' must be an object with a url")
		}
		if strings.TrimSpace(u.URL) == "" {
			return api.Media{}, badPart(param+".image_url.url", "'image_url.url' is required: an http(s) URL or a data: URI")
		}
		src := strings.TrimSpace(u.URL)
		if !hasPrefixFold(src, "data:") && !hasPrefixFold(src, "http://") && !hasPrefixFold(src, "https://") {
			return api.Media{}, badPart(param+".image_url.url", "'image_url.url' must be an http(s) URL or a data: URI")
		}
		return api.Media{Kind: api.MediaImage, Source: src}, nil
	case "file":
		f, err := media.ParseFilePart(p.File)
		if err != nil {
			return api.Media{}, badPart(param+".file", err.Error())
		}
		switch {
		case f.FileData == "" && f.FileID != "":
			return api.Media{}, badPart(param+".file.file_id", "file parts by file_id are not supported (this relay has no Files API); send the content in file_data")
		case f.FileData == "":
			return api.Media{}, badPart(param+".file.file_data", "'file.file_data' is required: a data: URI or base64")
		}
		return api.Media{Kind: api.MediaFile, Source: f.FileData, Filename: f.Filename}, nil
	}
	return api.Media{}, badPart(param+".type", fmt.Sprintf("content part type %q is not supported", p.Type))
}

func badPart(param, msg string) *RequestError {
	return &RequestError{Message: msg, Param: param, Code: "invalid_value"}
}

// messageMedia collects the media of message i (validated by Validate).
func messageMedia(m *Message, i int) ([]api.Media, error) {
	var out []api.Media
	for j := range m.Content.Parts {
		p := &m.Content.Parts[j]
		if p.Type != "image_url" && p.Type != "file" {
			continue
		}
		md, err := partMedia(p, fmt.Sprintf("messages[%d].content[%d]", i, j))
		if err != nil {
			return nil, err
		}
		out = append(out, md)
	}
	return out, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
