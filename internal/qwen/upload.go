package qwen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Upload defaults (docs/qwen-protocol.md §6.6; "Long contexts over the size
// wall": R polls parse/status every 500 ms, 30 times).
const (
	DefaultSTSPath           = "/api/v2/files/getstsToken"
	DefaultUploadTimeout     = 2 * time.Minute
	DefaultParsePollInterval = 500 * time.Millisecond
	DefaultParsePollMax      = 30
)

// UploadOptions configures the upload path of attachments.
type UploadOptions struct {
	// STSPath is the token endpoint: /api/v2/files/getstsToken (default,
	// {success,data} reply) or /api/v1/files/getstsToken (flat reply); both
	// reply shapes are read either way.
	STSPath string
	// OSSBaseURL, when set, replaces the bucket host the STS reply names:
	// objects are PUT path-style to OSSBaseURL/<bucket>/<key> (tests point
	// it at the emulator on loopback). An STS endpoint that carries its own
	// scheme ("http://127.0.0.1:8080/oss") is used the same way.
	OSSBaseURL string
	// Signature is "v4" (OSS4-HMAC-SHA256, default) or "v1" (HMAC-SHA1).
	Signature string
	// Timeout bounds one file's whole upload (STS, PUT, parse); default 2m.
	Timeout time.Duration
	// ParsePollInterval and ParsePollMax pace the document parse polling.
	ParsePollInterval time.Duration
	ParsePollMax      int
}

func (o *UploadOptions) normalize() error {
	if o.STSPath == "" {
		o.STSPath = DefaultSTSPath
	}
	if !strings.HasPrefix(o.STSPath, "/") {
		return fmt.Errorf("Upload.STSPath %q must start with /", o.STSPath)
	}
	if o.OSSBaseURL != "" {
		u, err := url.Parse(o.OSSBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("invalid Upload.OSSBaseURL %q", o.OSSBaseURL)
		}
		o.OSSBaseURL = strings.TrimRight(o.OSSBaseURL, "/")
	}
	if err := oneOf("Upload.Signature", &o.Signature, OSSSignV4, OSSSignV1); err != nil {
		return err
	}
	if o.Timeout < 0 || o.ParsePollInterval < 0 || o.ParsePollMax < 0 {
		return errors.New("upload timeouts and poll counts must not be negative")
	}
	o.Timeout = cmpOr(o.Timeout, DefaultUploadTimeout)
	o.ParsePollInterval = cmpOr(o.ParsePollInterval, DefaultParsePollInterval)
	o.ParsePollMax = cmpOr(o.ParsePollMax, DefaultParsePollMax)
	return nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// stsGrant is what getstsToken answers (docs/qwen-protocol.md §6.6 step 1).
type stsGrant struct {
	keys                      ossKeys
	fileURL, filePath, fileID string
	bucket, region, endpoint  string
}

// fileEntry is one messages[].files[] object (docs/qwen-protocol.md
// "Files, vision, search, media").
type fileEntry struct {
	Type           string    `json:"type"`
	File           fileInner `json:"file"`
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Name           string    `json:"name"`
	CollectionName string    `json:"collection_name"`
	Progress       int       `json:"progress"`
	Status         string    `json:"status"`
	GreenNet       string    `json:"greenNet"`
	Size           int       `json:"size"`
	Error          string    `json:"error"`
	ItemID         string    `json:"itemId"`
	FileType       string    `json:"file_type"`
	ShowType       string    `json:"showType"`
	FileClass      string    `json:"file_class"`
	UploadTaskID   string    `json:"uploadTaskId"`
}

type fileInner struct {
	CreatedAt int64    `json:"created_at"`
	Data      struct{} `json:"data"`
	Filename  string   `json:"filename"`
	Hash      *string  `json:"hash"`
	ID        string   `json:"id"`
	UserID    string   `json:"user_id"`
	Meta      fileMeta `json:"meta"`
	UpdateAt  int64    `json:"update_at"`
}

type fileMeta struct {
	Name        string `json:"name"`
	Size        int    `json:"size"`
	ContentType string `json:"content_type"`
}

// newFileEntry describes an uploaded file; images are "vision" files,
// anything else a "document" (docs/qwen-protocol.md §6.6 step 3).
func newFileEntry(f *upstream.File, g *stsGrant, now time.Time) fileEntry {
	typ, class := "file", "document"
	if f.Kind == upstream.FileImage {
		typ, class = "image", "vision"
	}
	user, _, _ := strings.Cut(g.filePath, "/")
	ms := now.UnixMilli()
	return fileEntry{
		Type: typ, ID: g.fileID, URL: g.fileURL, Name: f.Name, Progress: 0, Status: "uploaded",
		GreenNet: "success", Size: len(f.Data), ItemID: newUUID(), FileType: f.ContentType, ShowType: typ,
		FileClass: class, UploadTaskID: newUUID(),
		File: fileInner{CreatedAt: ms, Filename: f.Name, ID: g.fileID, UserID: user, UpdateAt: ms,
			Meta: fileMeta{Name: f.Name, Size: len(f.Data), ContentType: f.ContentType}},
	}
}

// placeholderEntries stand for the entries of files before they are
// uploaded, with ids and a URL of realistic length, so the size check runs
// before any upload.
func placeholderEntries(files []upstream.File, now time.Time) []fileEntry {
	out := make([]fileEntry, len(files))
	for i := range files {
		g := &stsGrant{fileID: placeholderChatID, filePath: placeholderChatID + "/" + placeholderChatID,
			fileURL: "https://qwen-webui-prod.oss-ap-southeast-1.aliyuncs.com/" + strings.Repeat("x", 220)}
		out[i] = newFileEntry(&files[i], g, now)
	}
	return out
}

// uploadFiles uploads every file for cred's account, in order. Any failure
// is a classified *upstream.Error: the answer never goes out without them.
func (c *Client) uploadFiles(ctx context.Context, cred upstream.Credential, files []upstream.File) ([]fileEntry, error) {
	out := make([]fileEntry, 0, len(files))
	for i := range files {
		e, err := c.uploadFile(ctx, cred, &files[i])
		if err != nil {
			return nil, redact(err, cred.Token)
		}
		out = append(out, e)
	}
	return out, nil
}

func (c *Client) uploadFile(ctx context.Context, cred upstream.Credential, f *upstream.File) (fileEntry, error) {
	uctx, cancel := context.WithTimeout(ctx, c.opts.Upload.Timeout)
	defer cancel()
	g, err := c.stsToken(uctx, cred, f)
	if err != nil {
		return fileEntry{}, uploadErr(ctx, "STS token", err)
	}
	if err := c.putObject(uctx, cred, f, g); err != nil {
		return fileEntry{}, uploadErr(ctx, "OSS upload", err)
	}
	if f.Kind != upstream.FileImage {
		if err := c.parseDocument(uctx, cred, g.fileID); err != nil {
			return fileEntry{}, uploadErr(ctx, "document parse", err)
		}
	}
	return newFileEntry(f, g, c.now()), nil
}

// uploadErr classifies an upload failure: the caller's cancellation stays
// itself; quota, rate limits, captcha, WAF and token failures keep their
// kind (the account is the problem); anything else is transient, so the
// relay may retry, uploading again on another account.
func uploadErr(parent context.Context, step string, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	ue, ok := upstream.AsError(err)
	if !ok {
		return &upstream.Error{Kind: upstream.KindTransient, Message: "attachment upload failed (" + step + ")", Err: err}
	}
	cp := *ue
	cp.Message = "attachment upload failed (" + step + "): " + ue.Message
	switch ue.Kind {
	case upstream.KindQuota, upstream.KindRateLimited, upstream.KindCaptcha, upstream.KindWAF,
		upstream.KindUnauthorized, upstream.KindTimeout, upstream.KindNetwork:
	default:
		cp.Kind = upstream.KindTransient
	}
	return &cp
}

// stsToken asks for temporary OSS credentials for f (§6.6 step 1).
func (c *Client) stsToken(ctx context.Context, cred upstream.Credential, f *upstream.File) (*stsGrant, error) {
	filetype := "file"
	if f.Kind == upstream.FileImage {
		filetype = "image"
	}
	body, err := json.Marshal(map[string]any{"filename": f.Name, "filesize": len(f.Data), "filetype": filetype})
	if err != nil {
		return nil, fmt.Errorf("qwen: encode sts body: %w", err)
	}
	answer, err := c.jsonCall(ctx, cred, http.MethodPost, c.opts.Upload.STSPath, "/", body)
	if err != nil {
		return nil, err
	}
	return parseSTS(answer)
}

// parseSTS reads a v1 (flat) or v2 ({success,data}) STS reply.
func parseSTS(answer []byte) (*stsGrant, error) {
	r := gjson.ParseBytes(answer)
	if d := r.Get("data"); d.IsObject() && r.Get("success").Exists() {
		r = d
	}
	g := &stsGrant{
		keys: ossKeys{AccessKeyID: r.Get("access_key_id").String(), Secret: r.Get("access_key_secret").String(),
			Token: r.Get("security_token").String()},
		fileURL: r.Get("file_url").String(), filePath: r.Get("file_path").String(), fileID: r.Get("file_id").String(),
		bucket: r.Get("bucketname").String(), region: r.Get("region").String(), endpoint: r.Get("endpoint").String(),
	}
	if g.keys.AccessKeyID == "" || g.keys.Secret == "" || g.filePath == "" || g.fileID == "" {
		return nil, &upstream.Error{Kind: upstream.KindBadResponse, Status: http.StatusOK,
			Message: "the STS reply lacks credentials, file_path or file_id"}
	}
	if g.bucket == "" {
		g.bucket = "qwen-webui-prod" // G4F's default (§6.6)
	}
	if g.region == "" {
		g.region = "oss-ap-southeast-1"
	}
	return g, nil
}

// objectURL is where the file goes: the bucket's virtual host at the STS
// endpoint, or path-style under an override (OSSBaseURL, or an endpoint
// with its own scheme).
func (c *Client) objectURL(g *stsGrant) string {
	key := ossEscapePath(g.filePath)
	base := c.opts.Upload.OSSBaseURL
	if base == "" && (strings.HasPrefix(g.endpoint, "http://") || strings.HasPrefix(g.endpoint, "https://")) {
		base = strings.TrimRight(g.endpoint, "/")
	}
	if base != "" {
		return base + "/" + ossEscape(g.bucket) + "/" + key
	}
	host := g.endpoint
	if host == "" {
		host = g.region + ".aliyuncs.com"
	}
	return "https://" + g.bucket + "." + host + "/" + key
}

// putObject PUTs f's bytes, signed with the STS credentials (§6.6 step 2).
// The Qwen token is never sent to OSS.
func (c *Client) putObject(ctx context.Context, cred upstream.Credential, f *upstream.File, g *stsGrant) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.objectURL(g), bytes.NewReader(f.Data))
	if err != nil {
		return &upstream.Error{Kind: upstream.KindBadResponse, Message: "the STS reply names an unusable object URL", Err: err}
	}
	req.ContentLength = int64(len(f.Data))
	req.Header.Set("Content-Type", f.ContentType)
	obj := ossObject{Bucket: g.bucket, Key: g.filePath, Region: strings.TrimPrefix(g.region, "oss-")}
	if c.opts.Upload.Signature == OSSSignV1 {
		signOSSV1(req.Header, http.MethodPut, obj, g.keys, c.now())
	} else {
		signOSSV4(req.Header, http.MethodPut, obj, g.keys, c.now())
	}
	hc := c.opts.HTTPClient
	if cred.HTTPClient != nil {
		hc = cred.HTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &upstream.Error{Kind: upstream.KindNetwork, Message: "OSS: connection failed", Err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	code := ossXMLField(b, "Code")
	msg := fmt.Sprintf("OSS answered HTTP %d", resp.StatusCode)
	if code != "" {
		msg += " (" + code + ")"
	}
	return &upstream.Error{Kind: upstream.KindTransient, Status: resp.StatusCode, Code: code, Message: msg}
}

// ossXMLField pulls <name>…</name> out of an OSS error document.
func ossXMLField(b []byte, name string) string {
	_, rest, ok := bytes.Cut(b, []byte("<"+name+">"))
	if !ok {
		return ""
	}
	v, _, ok := bytes.Cut(rest, []byte("</"+name+">"))
	if !ok || len(v) > 64 {
		return ""
	}
	return string(v)
}

// parseDocument asks the upstream to parse an uploaded document and polls
// until it is done (docs/qwen-protocol.md §6.6 step 4).
func (c *Client) parseDocument(ctx context.Context, cred upstream.Credential, fileID string) error {
	body, _ := json.Marshal(map[string]string{"file_id": fileID})
	if _, err := c.jsonCall(ctx, cred, http.MethodPost, "/api/v2/files/parse", "/", body); err != nil {
		return err
	}
	poll, _ := json.Marshal(map[string][]string{"file_id_list": {fileID}})
	t := time.NewTimer(0)
	defer t.Stop()
	for range c.opts.Upload.ParsePollMax {
		select {
		case <-ctx.Done():
			return &upstream.Error{Kind: upstream.KindTimeout, Message: "document parse did not finish in time", Err: ctx.Err()}
		case <-t.C:
		}
		answer, err := c.jsonCall(ctx, cred, http.MethodPost, "/api/v2/files/parse/status", "/", poll)
		if err != nil {
			return err
		}
		switch st := gjson.GetBytes(answer, "data.0.status").String(); st {
		case "success":
			return nil
		case "failed", "error":
			return &upstream.Error{Kind: upstream.KindBadRequest, Code: st, Message: "the upstream could not parse the document"}
		}
		t.Reset(c.opts.Upload.ParsePollInterval)
	}
	return &upstream.Error{Kind: upstream.KindTimeout, Message: "document parse did not finish after polling"}
}
