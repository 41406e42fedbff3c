package server

import (
	"bytes"
	"errors"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

func TestImageRatio(t *testing.T) {
	cases := []struct {
		size, want string
	}{
		{"", "1:1"}, {"auto", "1:1"}, {"1024x1024", "1:1"}, {"256x256", "1:1"},
		{"1792x1024", "16:9"}, {"1024x1792", "9:16"}, {"1536x1024", "4:3"}, {"1024x1536", "3:4"},
		{"16:9", "16:9"}, {"3:2", "4:3"}, {"21:9", "16:9"}, {"1280X720", "16:9"}, {" 4:3 ", "4:3"},
		{"big", ""}, {"0x10", ""}, {"10x", ""}, {"-1x5", ""}, {"NaNxNaN", ""}, {"1x1000", ""}, {"1e400x1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.size, func(t *testing.T) {
			got, err := imageRatio(tc.size)
			if tc.want == "" {
				var p *api.Problem
				if !errors.As(err, &p) || p.Param != "size" || p.Status != 400 {
					t.Fatalf("got %q, %v; want a 400 on size", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

var editPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// form builds a multipart body from name/value pairs; values of image
// parts are sent as files.
func form(t testing.TB, kv ...string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(kv); i += 2 {
		if strings.HasPrefix(kv[i], "image") || kv[i] == "mask" {
			fw, _ := w.CreateFormFile(kv[i], "x.bin")
			fw.Write([]byte(kv[i+1]))
			continue
		}
		w.WriteField(kv[i], kv[i+1])
	}
	w.Close()
	return buf.Bytes(), w.Boundary()
}

func TestDecodeEdit(t *testing.T) {
	png := string(editPNG)
	cases := []struct {
		name   string
		kv     []string
		images int
		n      int
		ratio  string
		b64    bool
		param  string // "" = valid
	}{
		{"one image", []string{"image", png, "prompt", "blue"}, 1, 1, "1:1", false, ""},
		{"array images", []string{"image[]", png, "image[]", png, "prompt", "blue", "n", "2", "size", "1792x1024", "response_format", "b64_json"}, 2, 2, "16:9", true, ""},
		{"unknown fields ignored", []string{"image", png, "prompt", "blue", "quality", "high"}, 1, 1, "1:1", false, ""},
		{"no prompt", []string{"image", png}, 0, 0, "", false, "prompt"},
		{"no image", []string{"prompt", "blue"}, 0, 0, "", false, "image"},
		{"not an image", []string{"image", "hello", "prompt", "blue"}, 0, 0, "", false, "image"},
		{"too many", []string{"image", png, "image", png, "image", png, "image", png, "image", png, "prompt", "x"}, 0, 0, "", false, "image"},
		{"mask", []string{"image", png, "mask", png, "prompt", "x"}, 0, 0, "", false, "mask"},
		{"bad n", []string{"image", png, "prompt", "x", "n", "zero"}, 0, 0, "", false, "n"},
		{"n zero", []string{"image", png, "prompt", "x", "n", "0"}, 0, 0, "", false, "n"},
		{"bad size", []string{"image", png, "prompt", "x", "size", "huge"}, 0, 0, "", false, "size"},
		{"too large", []string{"image", png + strings.Repeat("x", 100), "prompt", "x"}, 0, 0, "", false, "image"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, boundary := form(t, tc.kv...)
			q, err := decodeEdit(bytes.NewReader(body), boundary, 64)
			if tc.param != "" {
				var p *api.Problem
				if !errors.As(err, &p) || p.Param != tc.param || p.Status != 400 {
					t.Fatalf("got %v; want a 400 on %s", err, tc.param)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Images) != tc.images || q.N != tc.n || q.Ratio != tc.ratio || q.B64 != tc.b64 || q.Prompt == "" {
				t.Fatalf("got %+v", q)
			}
			if q.Images[0].ContentType != "image/png" || q.Images[0].Name != "image-1.png" {
				t.Fatalf("image: %s %s", q.Images[0].Name, q.Images[0].ContentType)
			}
		})
	}
}

func TestDecodeEditMalformed(t *testing.T) {
	_, err := decodeEdit(strings.NewReader("--b\r\nnot a header\r\n"), "b", 64)
	var p *api.Problem
	if !errors.As(err, &p) || p.Status != 400 {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeGeneration(t *testing.T) {
	cases := []struct {
		body  string
		param string
		n     int
	}{
		{`{"prompt":"a cat"}`, "", 1},
		{`{"prompt":"a cat","n":4,"size":"1024x1536","response_format":"url"}`, "", 4},
		{`{"prompt":"a cat","n":0}`, "n", 0},
		{`{"prompt":"a cat","n":-2}`, "n", 0},
		{`{"prompt":""}`, "prompt", 0},
		{`{"prompt":"x","size":"1x"}`, "size", 0},
		{`[`, "", -1},
	}
	for _, tc := range cases {
		t.Run(tc.body, func(t *testing.T) {
			q, err := decodeGeneration([]byte(tc.body))
			if tc.n == -1 || tc.param != "" {
				var p *api.Problem
				if !errors.As(err, &p) || p.Status != 400 || p.Param != tc.param {
					t.Fatalf("got %v; want a 400 on %q", err, tc.param)
				}
				return
			}
			if err != nil || q.N != tc.n {
				t.Fatalf("got %+v, %v", q, err)
			}
		})
	}
}

// FuzzDecodeEdit: any body is an edit request or a 400, never a panic, and
// an accepted one respects the limits.
func FuzzDecodeEdit(f *testing.F) {
	body, boundary := form(f, "image", string(editPNG), "prompt", "blue", "n", "2", "size", "16:9")
	f.Add(body, boundary)
	body, boundary = form(f, "image[]", string(editPNG), "mask", "m")
	f.Add(body, boundary)
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n\x89PNG\r\n\x1a\n\r\n--b--\r\n"), "b")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		if boundary == "" {
			return
		}
		q, err := decodeEdit(bytes.NewReader(body), boundary, 1<<10)
		if err != nil {
			var p *api.Problem
			if !errors.As(err, &p) || p.Status != 400 {
				t.Fatalf("error is not a 400 problem: %T %v", err, err)
			}
			return
		}
		if len(q.Images) == 0 || len(q.Images) > maxEditImages || q.N < 1 || q.N > maxImagesN || strings.TrimSpace(q.Prompt) == "" {
			t.Fatalf("accepted out of limits: %+v", q)
		}
		for _, im := range q.Images {
			if len(im.Data) > 1<<10 {
				t.Fatalf("image of %d bytes", len(im.Data))
			}
		}
	})
}
