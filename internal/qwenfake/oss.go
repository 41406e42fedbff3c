package qwenfake

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// The emulated OSS bucket host (docs/qwen-protocol.md §6.6 step 2). The STS
// reply names it as an endpoint with a scheme ("http://<emulator>/oss"), so
// a client PUTs path-style to /oss/<bucket>/<file_path>.

// UploadFailure selects an upload failure mode (SetUploadFailure).
type UploadFailure string

// Upload failure modes.
const (
	UploadOK        UploadFailure = ""
	UploadSTSFail   UploadFailure = "sts"       // getstsToken: Bad_Request "Internal error" (v1: HTTP 500)
	UploadSTSQuota  UploadFailure = "sts_quota" // getstsToken: RateLimited (the daily quota answer)
	UploadPutFail   UploadFailure = "put"       // the OSS PUT: 403 AccessDenied
	UploadParseFail UploadFailure = "parse"     // parse/status: failed
)

// SetUploadFailure makes every following upload fail in the given way
// (UploadOK clears it; Reset keeps it, like account failures).
func (s *Server) SetUploadFailure(f UploadFailure) {
	s.files.mu.Lock()
	s.files.fail = f
	s.files.mu.Unlock()
}

func (s *Server) uploadFailure() UploadFailure {
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	return s.files.fail
}

// object is a file an STS token was issued for and, once PUT, its stored
// shape (the bytes are counted, not kept).
type object struct {
	uid, name, filetype  string
	keyID, secret, token string
	bucket, path         string
	uploaded             bool
	size                 int64
	contentType          string
	text                 []byte // a document's bytes (up to maxKeptText), for echo=doc
}

// maxKeptText bounds the bytes kept of one document.
const maxKeptText = 1 << 20

var (
	v4Auth = regexp.MustCompile(`^OSS4-HMAC-SHA256 Credential=([^/,]+)/[0-9]{8}/[a-z0-9-]+/oss/aliyun_v4_request,(?:AdditionalHeaders=[a-z0-9;-]*,)?Signature=[0-9a-f]{64}$`)
	v1Auth = regexp.MustCompile(`^OSS ([^:]+):[A-Za-z0-9+/]{27}=$`)
)

const ossErrTmpl = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>`

// maxObjectBytes bounds one emulated upload.
const maxObjectBytes = 64 << 20

// handleOSSPut serves PUT /oss/{bucket}/{key...}: the object must be one an
// STS token was issued for; the security token header must be that token,
// and the Authorization header a V4 or V1 signature by its access key.
func (s *Server) handleOSSPut(w http.ResponseWriter, r *http.Request) {
	o := s.newOut(w, r)
	fail := func(status int, code, msg string) {
		o.body(status, "application/xml", fmt.Appendf(nil, ossErrTmpl, code, msg, newUUID()))
	}
	bucket, key := r.PathValue("bucket"), r.PathValue("key")
	s.files.mu.Lock()
	obj := s.files.byPath[bucket+"/"+key]
	f := s.files.fail
	s.files.mu.Unlock()
	auth := r.Header.Get("Authorization")
	switch {
	case f == UploadPutFail:
		fail(http.StatusForbidden, "AccessDenied", "You have no right to access this object because of bucket acl.")
		return
	case obj == nil:
		fail(http.StatusForbidden, "AccessDenied", "The object was not granted by an STS token.")
		return
	case r.Header.Get("x-oss-security-token") != obj.token:
		fail(http.StatusForbidden, "InvalidAccessKeyId", "The security token you provided is invalid.")
		return
	case !signedBy(r, auth, obj.keyID):
		fail(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	// Documents are kept (echo=doc shows them); other objects are counted,
	// not kept: a benchmark of the relay's upload path should not measure
	// the emulator buffering an image.
	var kept *bytes.Buffer
	dst := io.Writer(io.Discard)
	if obj.filetype == "file" || obj.filetype == "document" {
		kept = new(bytes.Buffer)
		dst = &capWriter{buf: kept, max: maxKeptText}
	}
	n, err := io.Copy(dst, io.LimitReader(r.Body, maxObjectBytes+1))
	s.stats.bytesIn.Add(n)
	if err != nil || n > maxObjectBytes {
		fail(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
		return
	}
	s.files.mu.Lock()
	obj.uploaded, obj.size, obj.contentType = true, n, r.Header.Get("Content-Type")
	if kept != nil {
		obj.text = kept.Bytes()
	}
	s.files.mu.Unlock()
	w.Header().Set("ETag", `"`+newUUID()+`"`)
	o.body(http.StatusOK, "application/xml", nil)
}

// signedBy checks the shape of a V4 or V1 Authorization for keyID, and the
// headers each version signs.
func signedBy(r *http.Request, auth, keyID string) bool {
	if m := v4Auth.FindStringSubmatch(auth); m != nil {
		return m[1] == keyID && r.Header.Get("x-oss-date") != "" &&
			r.Header.Get("x-oss-content-sha256") == "UNSIGNED-PAYLOAD"
	}
	if m := v1Auth.FindStringSubmatch(auth); m != nil {
		return m[1] == keyID && r.Header.Get("Date") != ""
	}
	return false
}

// requestFile is one messages[].files[] entry as the emulator reads it.
type requestFile struct {
	ID        string `json:"id"`
	FileClass string `json:"file_class"`
	File      struct {
		ID string `json:"id"`
	} `json:"file"`
}

func (f *requestFile) id() string {
	if f.ID != "" {
		return f.ID
	}
	return f.File.ID
}

const errFileTmpl = `{"success":false,"request_id":"%s","data":{"code":"Bad_Request","details":"%s"}}`

// checkFiles verifies that every files[] entry names an object the same
// user uploaded (and, for documents, parsed).
func (s *Server) checkFiles(req *completionRequest, uid string) []byte {
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	for _, m := range req.Messages {
		for i := range m.Files {
			id := m.Files[i].id()
			obj := s.files.objects[id]
			switch {
			case obj == nil || obj.uid != uid:
				return fmt.Appendf(nil, errFileTmpl, newUUID(), "File not found: "+jsonEscape(id))
			case !obj.uploaded:
				return fmt.Appendf(nil, errFileTmpl, newUUID(), "File not uploaded: "+jsonEscape(id))
			case m.Files[i].FileClass == "document" && s.files.files[id] != parseDone:
				return fmt.Appendf(nil, errFileTmpl, newUUID(), "File not parsed: "+jsonEscape(id))
			}
		}
	}
	return nil
}

// echoFiles is the answer of echo=files: one line per received file of the
// last message, with what the emulator stored for it, or "files: none".
func (s *Server) echoFiles(req *completionRequest) string {
	last := req.last()
	if last == nil || len(last.Files) == 0 {
		return "files: none"
	}
	var b strings.Builder
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	for i := range last.Files {
		f := &last.Files[i]
		obj := s.files.objects[f.id()]
		if obj == nil {
			continue
		}
		fmt.Fprintf(&b, "file name=%s class=%s type=%s size=%d\n", obj.name, f.FileClass, obj.contentType, obj.size)
	}
	return b.String()
}

// capWriter keeps the first max bytes written to it and drops the rest.
type capWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// echoDocs is the answer of echo=doc: the text of every document of the
// last message, then the message text itself (what the model reads).
func (s *Server) echoDocs(req *completionRequest, text string) string {
	var b strings.Builder
	if last := req.last(); last != nil {
		s.files.mu.Lock()
		for i := range last.Files {
			obj := s.files.objects[last.Files[i].id()]
			if obj == nil || obj.text == nil {
				continue
			}
			fmt.Fprintf(&b, "[file %s]\n", obj.name)
			b.Write(obj.text)
			b.WriteString("\n")
		}
		s.files.mu.Unlock()
	}
	b.WriteString("[message]\n")
	b.WriteString(text)
	return b.String()
}
