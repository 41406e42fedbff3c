package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// pngSize decodes a PNG and returns its pixel size: the emulator draws
// images whose size follows the upstream ratio it was asked for.
func pngSize(t *testing.T, b []byte) (int, int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestImageGeneration(t *testing.T) {
	e := start(t, setup{})
	cases := []struct {
		name   string
		p      openai.ImageGenerateParams
		n      int
		w, h   int // the PNG's size: the ratio the upstream was asked for
		viaURL bool
	}{
		{"url square", openai.ImageGenerateParams{Prompt: "a red cat"}, 1, 8, 8, true},
		{"url two wide", openai.ImageGenerateParams{Prompt: "a red cat", N: openai.Int(2), Size: openai.ImageGenerateParamsSize1792x1024}, 2, 16, 9, true},
		{"b64 tall", openai.ImageGenerateParams{Prompt: "a red cat", Size: openai.ImageGenerateParamsSize1024x1536,
			ResponseFormat: openai.ImageGenerateParamsResponseFormatB64JSON}, 1, 6, 8, false},
		{"b64 from chat detail", openai.ImageGenerateParams{Prompt: "a cat [[qwenfake image=detail]]", Size: "16:9",
			ResponseFormat: openai.ImageGenerateParamsResponseFormatB64JSON}, 1, 16, 9, false},
		{"named model", openai.ImageGenerateParams{Prompt: "a red cat", Model: model}, 1, 8, 8, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.client.Images.Generate(context.Background(), tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Data) != tc.n || res.Created == 0 {
				t.Fatalf("got %d images (created %d), want %d", len(res.Data), res.Created, tc.n)
			}
			for _, img := range res.Data {
				var b []byte
				if tc.viaURL {
					if img.URL == "" || img.B64JSON != "" {
						t.Fatalf("want a url only: %+v", img)
					}
					b = get(t, img.URL)
				} else {
					if img.URL != "" {
						t.Fatalf("want b64_json only: %+v", img)
					}
					var err error
					if b, err = base64.StdEncoding.DecodeString(img.B64JSON); err != nil {
						t.Fatal(err)
					}
				}
				if w, h := pngSize(t, b); w != tc.w || h != tc.h {
					t.Fatalf("image %dx%d, want %dx%d", w, h, tc.w, tc.h)
				}
			}
		})
	}
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return b
}

func TestImageEdit(t *testing.T) {
	e := start(t, setup{})
	src := pngBytes(t)
	cases := []struct {
		name  string
		image openai.ImageEditParamsImageUnion
		files string // the file count the emulator saw, in the URL
		b64   bool
	}{
		{"one image url", openai.ImageEditParamsImageUnion{OfFile: bytes.NewReader(src)}, "-1-", false},
		{"two images b64", openai.ImageEditParamsImageUnion{OfFileArray: []io.Reader{bytes.NewReader(src), bytes.NewReader(src)}}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := openai.ImageEditParams{Image: tc.image, Prompt: "make it blue", Size: openai.ImageEditParamsSize1024x1024}
			if tc.b64 {
				p.ResponseFormat = openai.ImageEditParamsResponseFormatB64JSON
			}
			res, err := e.client.Images.Edit(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Data) != 1 {
				t.Fatalf("%d images", len(res.Data))
			}
			if tc.b64 {
				b, err := base64.StdEncoding.DecodeString(res.Data[0].B64JSON)
				if err != nil {
					t.Fatal(err)
				}
				pngSize(t, b)
				return
			}
			if u := res.Data[0].URL; !strings.Contains(u, "/image_edit/") || !strings.Contains(u, tc.files) {
				t.Fatalf("url %q: want an image_edit answer that saw the upload", u)
			}
		})
	}
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 3, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImageErrors(t *testing.T) {
	e := start(t, setup{})
	gen := func(p openai.ImageGenerateParams) error {
		_, err := e.client.Images.Generate(context.Background(), p)
		return err
	}
	cases := []struct {
		name   string
		call   func() error
		status int
		param  string
	}{
		{"missing prompt", func() error { return gen(openai.ImageGenerateParams{Prompt: " "}) }, 400, "prompt"},
		{"bad size", func() error { return gen(openai.ImageGenerateParams{Prompt: "x", Size: "big"}) }, 400, "size"},
		{"n too large", func() error { return gen(openai.ImageGenerateParams{Prompt: "x", N: openai.Int(5)}) }, 400, "n"},
		{"bad format", func() error { return gen(openai.ImageGenerateParams{Prompt: "x", ResponseFormat: "gif"}) }, 400, "response_format"},
		{"unknown model", func() error { return gen(openai.ImageGenerateParams{Prompt: "x", Model: "no-such-model"}) }, 404, "model"},
		{"edit not an image", func() error {
			_, err := e.client.Images.Edit(context.Background(), openai.ImageEditParams{
				Image: openai.ImageEditParamsImageUnion{OfFile: strings.NewReader("plain text")}, Prompt: "x"})
			return err
		}, 400, "image"},
		{"upstream quota", func() error { return gen(openai.ImageGenerateParams{Prompt: "x [[qwenfake fail=quota]]"}) }, 429, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ae := apiErr(t, tc.call())
			if ae.StatusCode != tc.status || ae.Param != tc.param {
				t.Fatalf("got %d param %q (%s), want %d param %q", ae.StatusCode, ae.Param, ae.Message, tc.status, tc.param)
			}
		})
	}
}
