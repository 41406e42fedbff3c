package server

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/media"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

var tinyPNG = append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 24)...)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestResolveMedia(t *testing.T) {
	s := &Server{opts: Options{Media: &media.Fetcher{MaxBytes: 64}}}
	img := api.Media{Kind: api.MediaImage, Source: "data:image/png;base64," + b64(tinyPNG)}
	cases := []struct {
		name   string
		msgs   []api.Message
		want   []upstream.File
		status int    // expected Problem status when failing
		code   string // expected Problem code
	}{
		{"no media", []api.Message{{Role: "user", Text: "hi"}}, nil, 0, ""},
		{"image data uri", []api.Message{{Role: "user", Media: []api.Media{img}}},
			[]upstream.File{{Name: "image.png", ContentType: "image/png", Data: tinyPNG, Kind: upstream.FileImage}}, 0, ""},
		{"anthropic base64 with declared type and title", []api.Message{{Role: "user", Media: []api.Media{
			{Kind: api.MediaFile, Source: b64([]byte("hello")), MediaType: "text/plain", Filename: "notes"}}}},
			[]upstream.File{{Name: "notes.txt", ContentType: "text/plain", Data: []byte("hello"), Kind: upstream.FileDocument}}, 0, ""},
		{"only the last user turn", []api.Message{{Role: "user", Media: []api.Media{{Kind: api.MediaImage, Source: "data:,broken"}}},
			{Role: "assistant", Text: "ok"}, {Role: "user", Text: "again"}}, nil, 0, ""},
		{"pdf in an image part", []api.Message{{Role: "user", Media: []api.Media{{Kind: api.MediaImage, Source: "data:application/pdf;base64," + b64([]byte("%PDF-1.4"))}}}},
			nil, 400, "invalid_media_unsupported_type"},
		{"audio file", []api.Message{{Role: "user", Media: []api.Media{{Kind: api.MediaFile, Source: b64([]byte("RIFF....WAVEfmt ")), Filename: "a.wav"}}}},
			nil, 400, "invalid_media_unsupported_type"},
		{"too large", []api.Message{{Role: "user", Media: []api.Media{{Kind: api.MediaImage, Source: "data:image/png;base64," + b64(make([]byte, 100))}}}},
			nil, 413, "invalid_media_too_large"},
		{"stored without a source", []api.Message{{Role: "user", Media: []api.Media{{Kind: api.MediaImage, Filename: "old.png"}}}}, nil, 0, ""},
		{"too many", []api.Message{{Role: "user", Media: slices.Repeat([]api.Media{img}, maxAttachments+1)}}, nil, 400, "too_many_attachments"},
		{"blocked address", []api.Message{{Role: "user", Media: []api.Media{{Kind: api.MediaImage, Source: "http://127.0.0.1:1/x.png"}}}},
			nil, 400, "invalid_media_blocked_address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.resolveMedia(context.Background(), &api.Request{Messages: tc.msgs})
			if tc.status != 0 {
				var p *api.Problem
				if !errors.As(err, &p) || p.Status != tc.status || p.Code != tc.code {
					t.Fatalf("err %v, want %d %s", err, tc.status, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d files, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i].Name != tc.want[i].Name || got[i].ContentType != tc.want[i].ContentType ||
					string(got[i].Data) != string(tc.want[i].Data) || got[i].Kind != tc.want[i].Kind {
					t.Errorf("file %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestEarlierMediaAreNamed(t *testing.T) {
	req := &api.Request{Messages: []api.Message{
		{Role: "user", Text: "look", Media: []api.Media{{Kind: api.MediaImage, Source: "data:image/png;base64,AAAA"},
			{Kind: api.MediaFile, Source: "https://example.com/r.pdf"}}},
		{Role: "assistant", Text: "a cat"},
		{Role: "user", Text: "and this?", Media: []api.Media{{Kind: api.MediaImage, Source: "data:image/png;base64,BBBB"}}},
	}}
	req.Messages = append(req.Messages, api.Message{Role: "user", Text: "stored", Media: []api.Media{{Kind: api.MediaImage, Filename: "s.png"}}})
	msgs := renderMessages(req)
	if got := msgs[3].Content; got != "stored\n[image attached earlier: s.png]" {
		t.Errorf("sourceless last turn %q", got)
	}
	req.Messages = req.Messages[:3]
	msgs = renderMessages(req)
	if got := msgs[0].Content; got != "look\n[image attached earlier]\n[file attached earlier: https://example.com/r.pdf]" {
		t.Errorf("earlier turn %q", got)
	}
	if got := msgs[2].Content; got != "and this?" {
		t.Errorf("last turn %q (its media are uploaded, not named)", got)
	}
	for _, m := range msgs {
		if strings.Contains(m.Content, "base64") {
			t.Errorf("a data URI leaked into the text: %q", m.Content)
		}
	}
}
