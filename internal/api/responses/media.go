package responses

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// mediaPart is an input_image or input_file content part.
type mediaPart struct {
	Type     string `json:"type"`
	ImageURL string `json:"image_url"`
	FileID   string `json:"file_id"`
	Filename string `json:"filename"`
	FileData string `json:"file_data"`
	FileURL  string `json:"file_url"`
}

// contentMedia reads the input_image and input_file parts of a content
// array into unresolved api.Media (the server fetches or decodes them);
// input_audio is refused. A string content has none.
func contentMedia(raw json.RawMessage, param string) ([]api.Media, error) {
	if isAbsent(raw) || strings.HasPrefix(strings.TrimSpace(string(raw)), `"`) {
		return nil, nil
	}
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) != nil {
		return nil, nil // contentText reports the shape error
	}
	var out []api.Media
	for j, rp := range parts {
		var p mediaPart
		if json.Unmarshal(rp, &p) != nil {
			continue
		}
		pp := fmt.Sprintf("%s[%d]", param, j)
		switch p.Type {
		case "input_audio":
			return nil, api.Invalid("unsupported_content", pp, "%s: input_audio is not supported (the upstream takes no audio input here)", pp)
		case "input_image":
			if p.ImageURL == "" {
				return nil, fileIDProblem(pp, p.FileID, "image_url")
			}
			out = append(out, api.Media{Kind: api.MediaImage, Source: strings.TrimSpace(p.ImageURL)})
		case "input_file":
			src := p.FileData
			if src == "" {
				src = strings.TrimSpace(p.FileURL)
			}
			if src == "" {
				return nil, fileIDProblem(pp, p.FileID, "file_data or file_url")
			}
			out = append(out, api.Media{Kind: api.MediaFile, Source: src, Filename: p.Filename})
		}
	}
	return out, nil
}

func fileIDProblem(param, fileID, want string) error {
	if fileID != "" {
		return api.Invalid("unsupported_content", param, "%s: file_id references are not supported (this relay has no Files API); send %s", param, want)
	}
	return api.Invalid("missing_required_parameter", param, "%s: %s is required", param, want)
}
