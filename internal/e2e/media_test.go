package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// testPNG is a PNG signature followed by filler: enough for type sniffing.
var testPNG = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 2040)...)

func dataURI(mt string, b []byte) string {
	return "data:" + mt + ";base64," + base64.StdEncoding.EncodeToString(b)
}

func mediaParams(parts ...openai.ChatCompletionContentPartUnionParam) openai.ChatCompletionNewParams {
	all := append([]openai.ChatCompletionContentPartUnionParam{
		openai.TextContentPart("What is in these? [[qwenfake echo=files chunk=64]]")}, parts...)
	return openai.ChatCompletionNewParams{Model: model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(all)}}
}

func imagePart(url string) openai.ChatCompletionContentPartUnionParam {
	return openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: url})
}

func filePart(name, data string) openai.ChatCompletionContentPartUnionParam {
	return openai.FileContentPart(openai.ChatCompletionContentPartFileFileParam{
		Filename: openai.String(name), FileData: openai.String(data)})
}

// The emulator's echo=files answer proves the upstream received each file as
// an upload of the same account, with its kind and size.
func TestMediaReachUpstreamAsUploads(t *testing.T) {
	var hits atomic.Int64
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "image/png")
		w.Write(testPNG)
	}))
	defer img.Close()
	e := start(t, setup{cfg: func(c *config.Config) { c.AllowPrivateMediaURLs = true }})
	cases := []struct {
		name  string
		parts []openai.ChatCompletionContentPartUnionParam
		want  string
	}{
		{"data uri image", []openai.ChatCompletionContentPartUnionParam{imagePart(dataURI("image/png", testPNG))},
			"file name=image.png class=vision type=image/png size=2048\n"},
		{"file part", []openai.ChatCompletionContentPartUnionParam{filePart("notes.txt", dataURI("text/plain", []byte("meeting notes")))},
			"file name=notes.txt class=document type=text/plain size=13\n"},
		{"http image url", []openai.ChatCompletionContentPartUnionParam{imagePart(img.URL + "/cat.png")},
			"file name=cat.png class=vision type=image/png size=2048\n"},
		{"image and file", []openai.ChatCompletionContentPartUnionParam{imagePart(dataURI("image/png", testPNG)), filePart("a.md", dataURI("text/markdown", []byte("# hi")))},
			"file name=image.png class=vision type=image/png size=2048\nfile name=a.md class=document type=text/markdown size=4\n"},
	}
	for _, tc := range cases {
		p := mediaParams(tc.parts...)
		t.Run(tc.name+"/non-stream", func(t *testing.T) {
			c, err := e.client.Chat.Completions.New(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Choices[0].Message.Content; got != tc.want {
				t.Fatalf("upstream saw %q, want %q", got, tc.want)
			}
		})
		t.Run(tc.name+"/stream", func(t *testing.T) {
			r := e.stream(context.Background(), p)
			if r.err != nil || r.content != tc.want {
				t.Fatalf("err %v, upstream saw %q, want %q", r.err, r.content, tc.want)
			}
		})
	}
	if hits.Load() != 2 {
		t.Errorf("image server hit %d times, want 2 (one case, two modes)", hits.Load())
	}
}

// With AllowPrivate off, URLs naming loopback, link-local and metadata
// addresses are refused before anything is fetched.
func TestMediaSSRFRefused(t *testing.T) {
	var hits atomic.Int64
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "image/png")
		w.Write(testPNG)
	}))
	defer img.Close()
	port := img.URL[strings.LastIndex(img.URL, ":")+1:]
	e := start(t, setup{})
	for _, host := range []string{"127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "169.254.169.254", "10.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			_, err := e.client.Chat.Completions.New(context.Background(), mediaParams(imagePart("http://"+host+":"+port+"/x.png")))
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Code, "invalid_media_blocked_address") {
				t.Fatalf("err %v, want a 400 invalid_media_blocked_address", err)
			}
		})
	}
	if hits.Load() != 0 {
		t.Fatalf("the image server was hit %d times", hits.Load())
	}
}

func TestMediaBadInput(t *testing.T) {
	e := start(t, setup{})
	cases := []struct {
		name string
		part openai.ChatCompletionContentPartUnionParam
		code string
	}{
		{"broken base64", imagePart("data:image/png;base64,@@@@"), "invalid_media_invalid_data_uri"},
		{"pdf in an image part", imagePart(dataURI("application/pdf", []byte("%PDF-1.4 x"))), "invalid_media_unsupported_type"},
		{"file by id", openai.FileContentPart(openai.ChatCompletionContentPartFileFileParam{FileID: openai.String("file-1")}), "invalid_value"},
		{"audio", openai.InputAudioContentPart(openai.ChatCompletionContentPartInputAudioInputAudioParam{Data: "AAAA", Format: "wav"}), "unsupported_content"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.Chat.Completions.New(context.Background(), mediaParams(tc.part))
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Code != tc.code {
				t.Fatalf("err %v, want a 400 %s", err, tc.code)
			}
		})
	}
}

// A failed upload is an error, never a text-only answer.
func TestMediaUploadFailureIsAnError(t *testing.T) {
	e := start(t, setup{})
	p := mediaParams(imagePart(dataURI("image/png", testPNG)))
	for _, mode := range []qwenfake.UploadFailure{qwenfake.UploadSTSFail, qwenfake.UploadPutFail, qwenfake.UploadSTSQuota} {
		e.emu.SetUploadFailure(mode)
		t.Run(string(mode)+"/non-stream", func(t *testing.T) {
			c, err := e.client.Chat.Completions.New(context.Background(), p)
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode < 400 {
				t.Fatalf("got %v %v, want an error status", c, err)
			}
			if !strings.Contains(ae.Message, "upload") {
				t.Errorf("message %q does not say the upload failed", ae.Message)
			}
		})
		t.Run(string(mode)+"/stream", func(t *testing.T) {
			r := e.stream(context.Background(), p)
			if r.err == nil || r.content != "" {
				t.Fatalf("err %v content %q, want an error and no text", r.err, r.content)
			}
		})
	}
	e.emu.SetUploadFailure(qwenfake.UploadOK)
}

// Uploads belong to the account that made them: when the first account's
// completion fails after its upload, the retry on another account uploads
// again (the emulator refuses a files[] entry naming another user's object,
// so a successful answer proves the second upload).
func TestMediaRetryUploadsAgain(t *testing.T) {
	e := start(t, setup{users: []string{"alice", "bob"}})
	e.emu.SetAccountFailure("alice", qwenfake.Failure{Mode: qwenfake.ModeCaptcha})
	p := mediaParams(imagePart(dataURI("image/png", testPNG)))
	want := "file name=image.png class=vision type=image/png size=2048\n"
	for i := 0; i < 3; i++ {
		c, err := e.client.Chat.Completions.New(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Choices[0].Message.Content; got != want {
			t.Fatalf("upstream saw %q, want %q", got, want)
		}
	}
	if n := e.emu.Account("alice").Requests; n != 1 {
		t.Fatalf("alice answered %d completions, want 1 (then quarantined)", n)
	}
	if n := e.emu.Stats().Paths["/api/v2/files/getstsToken"]; n != 4 {
		t.Fatalf("%d STS tokens issued, want 4 (alice's wasted upload, then one per answer)", n)
	}
}
