package qwen

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// recordingTransport remembers every request's method, path and headers.
type recordingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recordingTransport) paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		out = append(out, q.Method+" "+q.URL.Path)
	}
	return out
}

var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 1000)...)

func fileReq(text string, files ...upstream.File) *upstream.ChatRequest {
	r := userReq(text)
	r.Files = files
	return r
}

func TestUploadReachesUpstream(t *testing.T) {
	_, client, cred := emulator(t, qwenfake.Options{})
	img := upstream.File{Name: "cat.png", ContentType: "image/png", Data: pngBytes, Kind: upstream.FileImage}
	doc := upstream.File{Name: "notes.txt", ContentType: "text/plain", Data: []byte("hello document"), Kind: upstream.FileDocument}
	cases := []struct {
		name  string
		opts  func(*Options)
		files []upstream.File
		want  string
		steps []string // upload requests in order
	}{
		{"image v4", nil, []upstream.File{img},
			"file name=cat.png class=vision type=image/png size=1008\n",
			[]string{"POST /api/v2/files/getstsToken", "PUT /oss/qwen-webui-prod/"}},
		{"image v1 signature, v1 sts", func(o *Options) { o.Upload.Signature = OSSSignV1; o.Upload.STSPath = "/api/v1/files/getstsToken" },
			[]upstream.File{img}, "file name=cat.png class=vision type=image/png size=1008\n",
			[]string{"POST /api/v1/files/getstsToken", "PUT /oss/qwen-webui-prod/"}},
		{"document parsed", func(o *Options) { o.Upload.ParsePollInterval = time.Millisecond },
			[]upstream.File{doc}, "file name=notes.txt class=document type=text/plain size=14\n",
			[]string{"POST /api/v2/files/getstsToken", "PUT /oss/qwen-webui-prod/", "POST /api/v2/files/parse",
				"POST /api/v2/files/parse/status", "POST /api/v2/files/parse/status"}},
		{"simple body, two files", func(o *Options) { o.BodyStyle = BodySimple; o.Upload.ParsePollInterval = time.Millisecond },
			[]upstream.File{img, doc},
			"file name=cat.png class=vision type=image/png size=1008\nfile name=notes.txt class=document type=text/plain size=14\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTransport{base: &http.Transport{DisableCompression: true}}
			c := client(func(o *Options) {
				o.HTTPClient = &http.Client{Transport: rec}
				if tc.opts != nil {
					tc.opts(o)
				}
			})
			o := runCred(t, c, cred, fileReq("what is this? [[qwenfake echo=files chunk=50]]", tc.files...))
			if o.err != nil {
				t.Fatal(o.err)
			}
			if got := o.text(upstream.EventContent); got != tc.want {
				t.Errorf("echo %q, want %q", got, tc.want)
			}
			got := rec.paths()
			for i, step := range tc.steps {
				if i >= len(got) || !strings.HasPrefix(got[i], step) {
					t.Fatalf("requests %v, want prefix %v", got, tc.steps)
				}
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, q := range rec.reqs {
				if strings.HasPrefix(q.URL.Path, "/oss/") {
					for k, v := range q.Header {
						if strings.Contains(strings.Join(v, " "), cred.Token) {
							t.Errorf("the Qwen token went to OSS in %s", k)
						}
					}
				}
			}
		})
	}
}

func TestUploadFailuresAreClassified(t *testing.T) {
	fake, client, cred := emulator(t, qwenfake.Options{})
	img := upstream.File{Name: "cat.png", ContentType: "image/png", Data: pngBytes, Kind: upstream.FileImage}
	doc := upstream.File{Name: "a.txt", ContentType: "text/plain", Data: []byte("x"), Kind: upstream.FileDocument}
	cases := []struct {
		mode  qwenfake.UploadFailure
		opts  func(*Options)
		file  upstream.File
		kind  upstream.Kind
		inMsg string
	}{
		{qwenfake.UploadSTSFail, nil, img, upstream.KindTransient, "STS token"},
		{qwenfake.UploadSTSFail, func(o *Options) { o.Upload.STSPath = "/api/v1/files/getstsToken" }, img, upstream.KindTransient, "STS token"},
		{qwenfake.UploadSTSQuota, nil, img, upstream.KindQuota, "STS token"},
		{qwenfake.UploadPutFail, nil, img, upstream.KindTransient, "OSS answered HTTP 403 (AccessDenied)"},
		{qwenfake.UploadParseFail, func(o *Options) { o.Upload.ParsePollInterval = time.Millisecond }, doc, upstream.KindTransient, "document parse"},
	}
	for _, tc := range cases {
		t.Run(string(tc.mode), func(t *testing.T) {
			fake.SetUploadFailure(tc.mode)
			t.Cleanup(func() { fake.SetUploadFailure(qwenfake.UploadOK) })
			o := runCred(t, client(tc.opts), cred, fileReq("hi", tc.file))
			if kindOf(o.err) != tc.kind || !strings.Contains(o.err.Error(), tc.inMsg) {
				t.Fatalf("err %v (kind %v), want %v containing %q", o.err, kindOf(o.err), tc.kind, tc.inMsg)
			}
			checkNoToken(t, o.err)
		})
	}
}

func TestUploadRefusedWhereUnsupported(t *testing.T) {
	_, client, cred := emulator(t, qwenfake.Options{})
	img := upstream.File{Name: "cat.png", ContentType: "image/png", Data: pngBytes, Kind: upstream.FileImage}
	o := runCred(t, client(func(o *Options) { o.Protocol = ProtocolLegacy }), cred, fileReq("hi", img))
	if kindOf(o.err) != upstream.KindBadRequest {
		t.Fatalf("legacy with files: %v", o.err)
	}
	// The size check counts the files[] entries and runs before any upload.
	big := fileReq(strings.Repeat("a", 127000), img, img)
	if o := runCred(t, client(nil), cred, big); kindOf(o.err) != upstream.KindTooLarge {
		t.Fatalf("oversized: %v", o.err)
	}
}

func TestParseSTS(t *testing.T) {
	cases := []struct {
		name, body string
		ok         bool
		bucket     string
	}{
		{"v1 flat", `{"access_key_id":"a","access_key_secret":"s","security_token":"t","file_path":"u/f","file_id":"i","bucketname":"b"}`, true, "b"},
		{"v2 wrapped", `{"success":true,"data":{"access_key_id":"a","access_key_secret":"s","file_path":"u/f","file_id":"i"}}`, true, "qwen-webui-prod"},
		{"missing keys", `{"success":true,"data":{"file_path":"u/f","file_id":"i"}}`, false, ""},
		{"not json", `nope`, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := parseSTS([]byte(tc.body))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if tc.ok && g.bucket != tc.bucket {
				t.Errorf("bucket %q", g.bucket)
			}
			if !tc.ok && kindOf(err) != upstream.KindBadResponse {
				t.Errorf("kind %v", kindOf(err))
			}
		})
	}
}

// FuzzParseSTS: any STS reply is parsed or refused with a classified
// error, never a panic, and a grant always has the fields the PUT needs.
func FuzzParseSTS(f *testing.F) {
	f.Add(`{"success":true,"data":{"access_key_id":"a","access_key_secret":"s","file_path":"u/f","file_id":"i"}}`)
	f.Add(`{"access_key_id":"a","access_key_secret":"s","file_path":"u/f","file_id":"i","endpoint":"http://h/oss"}`)
	f.Add(`{"success":false,"data":{"code":"RateLimited"}}`)
	f.Add(`<Error><Code>AccessDenied</Code></Error>`)
	f.Fuzz(func(t *testing.T, s string) {
		_ = ossXMLField([]byte(s), "Code")
		g, err := parseSTS([]byte(s))
		if err != nil {
			if kindOf(err) != upstream.KindBadResponse {
				t.Fatalf("unclassified %v", err)
			}
			return
		}
		if g.keys.AccessKeyID == "" || g.keys.Secret == "" || g.filePath == "" || g.fileID == "" || g.bucket == "" {
			t.Fatalf("incomplete grant %+v", g)
		}
		c := &Client{}
		if u := c.objectURL(g); !strings.Contains(u, "/"+ossEscapePath(g.filePath)) {
			t.Fatalf("url %q misses the key", u)
		}
	})
}

// BenchmarkOpenChatUpload measures what uploading adds to opening an
// answer (STS token + OSS PUT to the emulator on loopback), and the
// client's allocation for it: the file's bytes are sent from the caller's
// slice, never copied.
func BenchmarkOpenChatUpload(b *testing.B) {
	for _, size := range []int{0, 1 << 20, 10 << 20} {
		name := map[int]string{0: "no-file", 1 << 20: "1MB", 10 << 20: "10MB"}[size]
		b.Run(name, func(b *testing.B) {
			fake := qwenfake.New(qwenfake.Options{})
			srv := httptest.NewServer(fake)
			defer func() { fake.Close(); srv.Close() }()
			cred := upstream.Credential{ID: "u1", Token: fake.MintToken("u1", time.Hour)}
			tr := &http.Transport{DisableCompression: true}
			defer tr.CloseIdleConnections()
			c, err := New(Options{BaseURL: srv.URL, HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				b.Fatal(err)
			}
			req := userReq("hi [[qwenfake tokens=1]]")
			if size > 0 {
				req.Files = []upstream.File{{Name: "a.png", ContentType: "image/png", Data: make([]byte, size), Kind: upstream.FileImage}}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				st, err := c.OpenChat(context.Background(), cred, req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := st.Next(); err != nil {
						break
					}
				}
				st.Close()
			}
		})
	}
}
