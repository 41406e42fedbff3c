package e2e

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// An Anthropic image block (and a text document) reach the upstream as
// uploads of the answering account, proved by the emulator's echo=files.
func TestAnthropicMediaBlocks(t *testing.T) {
	e, c := startAnthropic(t)
	img := anthropic.NewImageBlockBase64("image/png", base64.StdEncoding.EncodeToString(testPNG))
	doc := anthropic.NewDocumentBlock(anthropic.PlainTextSourceParam{Data: "release notes"})
	p := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(
			anthropic.NewTextBlock("Describe. [[qwenfake echo=files chunk=64]]"), img, doc)}}
	want := "file name=image.png class=vision type=image/png size=2048\nfile name=document.txt class=document type=text/plain size=13\n"
	t.Run("non-stream", func(t *testing.T) {
		m, err := c.Messages.New(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Content) != 1 || m.Content[0].Text != want {
			t.Fatalf("upstream saw %+v, want %q", m.Content, want)
		}
	})
	t.Run("stream", func(t *testing.T) {
		m, _, err := streamMessage(context.Background(), c, p)
		if err != nil || len(m.Content) != 1 || m.Content[0].Text != want {
			t.Fatalf("err %v content %+v, want %q", err, m.Content, want)
		}
	})
	t.Run("upload failure", func(t *testing.T) {
		e.emu.SetUploadFailure(qwenfake.UploadPutFail)
		defer e.emu.SetUploadFailure(qwenfake.UploadOK)
		_, err := c.Messages.New(context.Background(), p)
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode < 500 || !strings.Contains(ae.Error(), "upload") {
			t.Fatalf("err %v, want a 5xx naming the upload", err)
		}
	})
	t.Run("ssrf", func(t *testing.T) {
		bad := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 256,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(
				anthropic.NewImageBlock(anthropic.URLImageSourceParam{URL: "http://169.254.169.254/latest/meta-data"}))}}
		_, err := c.Messages.New(context.Background(), bad)
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != 400 {
			t.Fatalf("err %v, want 400", err)
		}
	})
}

// A Responses input_image and input_file reach the upstream as uploads.
func TestResponsesMediaParts(t *testing.T) {
	e := start(t, setup{})
	body := `{"model":"` + model + `","store":false,"input":[{"role":"user","content":[` +
		`{"type":"input_text","text":"Look. [[qwenfake echo=files chunk=64]]"},` +
		`{"type":"input_image","image_url":"` + dataURI("image/png", testPNG) + `"},` +
		`{"type":"input_file","filename":"n.txt","file_data":"` + dataURI("text/plain", []byte("abc")) + `"}]}]}`
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.relay.URL+"/v1/responses", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	want := "file name=image.png class=vision type=image/png size=2048\nfile name=n.txt class=document type=text/plain size=3\n"
	if got := gjson.GetBytes(raw, `output.#(type=="message").content.0.text`).String(); resp.StatusCode != 200 || got != want {
		t.Fatalf("status %d, upstream saw %q, want %q (%s)", resp.StatusCode, got, want, raw)
	}
}
