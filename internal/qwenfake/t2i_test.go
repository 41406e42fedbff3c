package qwenfake

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestImageServing(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	good := "/output/u1/t2i/r1/16x9-0-00ff0000.png"
	cases := []struct {
		name   string
		path   string
		key    string
		status int
	}{
		{"good", good, imageKey(good), 200},
		{"wrong key", good, "0000", 403},
		{"no key", good, "", 403},
		{"bad name", "/output/u1/t2i/r1/x.png", imageKey("/output/u1/t2i/r1/x.png"), 404},
		{"too big", "/output/u1/t2i/r1/999x9-0-00ff0000.png", imageKey("/output/u1/t2i/r1/999x9-0-00ff0000.png"), 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path+"?key="+tc.key, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status != 200 {
				return
			}
			img, err := png.Decode(bytes.NewReader(rec.Body.Bytes()))
			if err != nil || img.Bounds().Dx() != 16 || img.Bounds().Dy() != 9 {
				t.Fatalf("png: %v %v", err, img)
			}
			if r, _, _, _ := img.At(0, 0).RGBA(); r>>8 != 0xff {
				t.Fatalf("colour %v", img.At(0, 0))
			}
		})
	}
}
