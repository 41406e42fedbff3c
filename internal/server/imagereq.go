package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// imageRequest is an OpenAI image generation or edit request, validated.
type imageRequest struct {
	Prompt string
	Model  string
	N      int
	Ratio  string // the upstream's aspect ratio (docs/qwen-protocol.md §6.3)
	B64    bool   // response_format b64_json
	Images []upstream.File
}

// Limits of an image request.
const (
	maxImagesN      = 4
	maxEditImages   = 4
	maxPromptBytes  = 32 << 10
	maxFormFieldLen = 64 << 10
)

// upstreamRatios are the aspect ratios the upstream's t2i accepts
// (docs/qwen-protocol.md §6.3) with their width/height.
var upstreamRatios = []struct {
	name string
	w, h float64
}{{"1:1", 1, 1}, {"4:3", 4, 3}, {"3:4", 3, 4}, {"16:9", 16, 9}, {"9:16", 9, 16}}

// imageRatio maps an OpenAI size ("1024x1792") or a ratio ("16:9", "3:2")
// to the nearest upstream ratio; "" and "auto" are 1:1.
func imageRatio(size string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(size))
	if s == "" || s == "auto" {
		return "1:1", nil
	}
	sep := "x"
	if strings.Contains(s, ":") {
		sep = ":"
	}
	a, b, ok := strings.Cut(s, sep)
	w, errW := strconv.ParseFloat(strings.TrimSpace(a), 64)
	h, errH := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || errW != nil || errH != nil || !(w > 0) || !(h > 0) || math.IsInf(w, 0) || math.IsInf(h, 0) || w/h > 100 || h/w > 100 {
		return "", api.Invalid("invalid_size", "size",
			"size %q is not valid: use WIDTHxHEIGHT (1024x1024, 1792x1024, 1024x1792, 1536x1024, 1024x1536), a ratio (16:9) or auto", quoted(size))
	}
	best, dist := "", math.Inf(1)
	for _, r := range upstreamRatios {
		if d := math.Abs(math.Log(w/h) - math.Log(r.w/r.h)); d < dist {
			best, dist = r.name, d
		}
	}
	return best, nil
}

// fill validates the common fields; n (0 = default 1), format and size as
// sent.
func (q *imageRequest) fill(n int, format, size string) error {
	if strings.TrimSpace(q.Prompt) == "" {
		return api.Invalid("missing_prompt", "prompt", "prompt is required: describe the image")
	}
	if len(q.Prompt) > maxPromptBytes {
		return api.Invalid("prompt_too_long", "prompt", "prompt is longer than %d bytes", maxPromptBytes)
	}
	if n == 0 {
		n = 1
	}
	if n < 1 || n > maxImagesN {
		return api.Invalid("invalid_n", "n", "n must be between 1 and %d", maxImagesN)
	}
	q.N = n
	switch format {
	case "", "url":
	case "b64_json":
		q.B64 = true
	default:
		return api.Invalid("invalid_response_format", "response_format", "response_format %q is not valid: use url or b64_json", quoted(format))
	}
	var err error
	q.Ratio, err = imageRatio(size)
	return err
}

// decodeGeneration parses the JSON body of POST /v1/images/generations.
func decodeGeneration(body []byte) (*imageRequest, error) {
	var in struct {
		Prompt         string `json:"prompt"`
		Model          string `json:"model"`
		N              *int   `json:"n"`
		Size           string `json:"size"`
		ResponseFormat string `json:"response_format"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, api.Invalid("invalid_json", "", "the request body is not valid JSON: %s", quoted(err.Error()))
	}
	q := &imageRequest{Prompt: in.Prompt, Model: in.Model}
	n := 1
	if in.N != nil {
		if n = *in.N; n == 0 {
			n = -1 // an explicit 0 is out of range
		}
	}
	return q, q.fill(n, in.ResponseFormat, in.Size)
}

// decodeEdit parses the multipart/form-data body of POST /v1/images/edits:
// one or more image parts (image, image[]) and the fields prompt, model,
// n, size, response_format. Each image may be maxImage bytes; it must be a
// PNG, JPEG, WebP or GIF by its content (the declared type is not trusted).
func decodeEdit(body io.Reader, boundary string, maxImage int64) (*imageRequest, error) {
	mr := multipart.NewReader(body, boundary)
	q := &imageRequest{}
	var n, format, size string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, formErr(err)
		}
		name := p.FormName()
		switch name {
		case "image", "image[]":
			if len(q.Images) == maxEditImages {
				return nil, api.Invalid("too_many_images", "image", "at most %d images can be edited at once", maxEditImages)
			}
			f, err := readEditImage(p, len(q.Images)+1, maxImage)
			if err != nil {
				return nil, err
			}
			q.Images = append(q.Images, f)
		case "mask":
			return nil, api.Invalid("unsupported_parameter", "mask", "mask is not supported: the upstream's image edit takes the prompt and images only")
		case "prompt", "model", "n", "size", "response_format":
			b, err := io.ReadAll(io.LimitReader(p, maxFormFieldLen+1))
			if err != nil {
				return nil, formErr(err)
			}
			if len(b) > maxFormFieldLen {
				return nil, api.Invalid("field_too_long", name, "the field %s is too long", name)
			}
			switch v := string(b); name {
			case "prompt":
				q.Prompt = v
			case "model":
				q.Model = strings.TrimSpace(v)
			case "n":
				n = strings.TrimSpace(v)
			case "size":
				size = v
			case "response_format":
				format = strings.TrimSpace(v)
			}
		}
		_ = p.Close()
	}
	nv := 1
	if n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v == 0 {
			return nil, api.Invalid("invalid_n", "n", "n must be between 1 and %d", maxImagesN)
		}
		nv = v
	}
	if err := q.fill(nv, format, size); err != nil {
		return nil, err
	}
	if len(q.Images) == 0 {
		return nil, api.Invalid("missing_image", "image", "image is required: send the image to edit as a multipart file part named image (or image[])")
	}
	return q, nil
}

func formErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return api.Invalid("invalid_multipart", "", "the request body is not valid multipart/form-data: %s", quoted(err.Error()))
}

// editImageTypes are the image types accepted for an edit, with the
// extension of the uploaded file's name.
var editImageTypes = map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}

func readEditImage(p *multipart.Part, i int, maxImage int64) (upstream.File, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxImage+1))
	if err != nil {
		return upstream.File{}, formErr(err)
	}
	if int64(len(b)) > maxImage {
		return upstream.File{}, api.Invalid("image_too_large", "image", "image %d is larger than %d bytes", i, maxImage)
	}
	ct := http.DetectContentType(b)
	ext, ok := editImageTypes[ct]
	if !ok {
		return upstream.File{}, api.Invalid("invalid_image", "image", "image %d is not a PNG, JPEG, WebP or GIF image (its content looks like %s)", i, ct)
	}
	return upstream.File{Name: fmt.Sprintf("image-%d%s", i, ext), ContentType: ct, Data: b, Kind: upstream.FileImage}, nil
}
