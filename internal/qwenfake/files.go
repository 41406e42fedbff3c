package qwenfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Bound on remembered files and tasks.
const maxFiles = 1 << 16

// File parse states reported by /api/v2/files/parse/status.
const (
	parseIssued  = iota // STS token issued, parse not requested: "pending"
	parseStarted        // parse requested, not yet polled: next poll says "running"
	parseDone           // polled once: "success"
)

// fileStore tracks uploaded files and video tasks. A task is reported
// "running" on its first poll and "success" afterwards.
type fileStore struct {
	mu      sync.Mutex
	files   map[string]int     // file id -> parse state
	tasks   map[string]int     // task id -> polls
	objects map[string]*object // file id -> issued object
	byPath  map[string]*object // "<bucket>/<file_path>" -> issued object
	fail    UploadFailure
}

func newFileStore() fileStore {
	return fileStore{files: map[string]int{}, tasks: map[string]int{},
		objects: map[string]*object{}, byPath: map[string]*object{}}
}

var fileTypes = map[string]bool{"image": true, "video": true, "audio": true, "document": true, "file": true}

type stsRequest struct {
	Filename string `json:"filename"`
	Filesize int64  `json:"filesize"`
	Filetype string `json:"filetype"`
}

// sts validates a getstsToken body and returns the credentials, or nil.
func (s *Server) sts(r *http.Request, uid string) map[string]any {
	body, err := s.readBody(r, 64<<10)
	var req stsRequest
	if err != nil || json.Unmarshal(body, &req) != nil || req.Filename == "" || !fileTypes[req.Filetype] {
		return nil
	}
	id := newUUID()
	path := uid + "/" + id + "_" + req.Filename
	obj := &object{uid: uid, name: req.Filename, filetype: req.Filetype, keyID: "STS.qwenfake" + id[:8],
		secret: "qwenfake-secret-" + id[9:13], token: "CAISqwenfake" + id, bucket: "qwen-webui-prod", path: path}
	s.files.mu.Lock()
	if len(s.files.files) >= maxFiles {
		clear(s.files.files)
		clear(s.files.objects)
		clear(s.files.byPath)
	}
	s.files.files[id] = parseIssued
	s.files.objects[id] = obj
	s.files.byPath[obj.bucket+"/"+path] = obj
	s.files.mu.Unlock()
	// The endpoint carries the emulator's own URL (a scheme marks it as a
	// path-style base), so clients PUT to handleOSSPut on loopback.
	endpoint := "http://" + r.Host + "/oss"
	exp := s.opts.Now().Add(time.Hour).Unix()
	fileURL := endpoint + "/" + obj.bucket + "/" + url.PathEscape(path) +
		fmt.Sprintf("?Expires=%d&OSSAccessKeyId=STS.qwenfake&Signature=qwenfake", exp)
	return map[string]any{
		"access_key_id": obj.keyID, "access_key_secret": obj.secret,
		"security_token": obj.token, "file_url": fileURL, "file_path": path, "file_id": id,
		"bucketname": obj.bucket, "region": "oss-ap-southeast-1", "endpoint": endpoint,
	}
}

// stsQuotaBody is the daily quota answer (docs/qwen-protocol.md §7).
const stsQuotaBody = `{"success":false,"request_id":"qwenfake","data":{"code":"RateLimited","details":"You've reached the upper limit for today's usage.","num":4}}`

// handleSTSv1 answers flat (§6.6); a bad request is a 400 {"detail"}.
func (s *Server) handleSTSv1(w http.ResponseWriter, r *http.Request, uid string) {
	switch s.uploadFailure() {
	case UploadSTSFail:
		s.newOut(w, r).json(http.StatusInternalServerError, detailJSON("Internal error"))
		return
	case UploadSTSQuota:
		s.newOut(w, r).json(http.StatusOK, []byte(stsQuotaBody))
		return
	}
	cred := s.sts(r, uid)
	if cred == nil {
		s.newOut(w, r).json(http.StatusBadRequest, detailJSON("Invalid filename or filetype"))
		return
	}
	s.writeJSON(w, r, cred)
}

// handleSTSv2 answers {success, data}.
func (s *Server) handleSTSv2(w http.ResponseWriter, r *http.Request, uid string) {
	switch s.uploadFailure() {
	case UploadSTSFail:
		s.newOut(w, r).json(http.StatusOK, []byte(`{"success":false,"data":{"code":"Bad_Request","details":"Internal error"}}`))
		return
	case UploadSTSQuota:
		s.newOut(w, r).json(http.StatusOK, []byte(stsQuotaBody))
		return
	}
	cred := s.sts(r, uid)
	if cred == nil {
		s.newOut(w, r).json(http.StatusOK, []byte(`{"success":false,"data":{"code":"Bad_Request","details":"Invalid filename or filetype"}}`))
		return
	}
	s.writeJSON(w, r, map[string]any{"success": true, "request_id": newUUID(), "data": cred})
}

func (s *Server) handleParse(w http.ResponseWriter, r *http.Request, _ string) {
	body, err := s.readBody(r, 64<<10)
	var req struct {
		FileID string `json:"file_id"`
	}
	_ = json.Unmarshal(body, &req)
	s.files.mu.Lock()
	_, known := s.files.files[req.FileID]
	if known {
		s.files.files[req.FileID] = parseStarted
	}
	s.files.mu.Unlock()
	if err != nil || !known {
		s.newOut(w, r).json(http.StatusOK, []byte(`{"success":false,"data":{"code":"Not_Found","details":"File not found"}}`))
		return
	}
	s.writeJSON(w, r, map[string]any{"success": true, "request_id": newUUID(), "data": map[string]any{}})
}

func (s *Server) handleParseStatus(w http.ResponseWriter, r *http.Request, _ string) {
	body, err := s.readBody(r, 64<<10)
	var req struct {
		IDs []string `json:"file_id_list"`
	}
	if err != nil || json.Unmarshal(body, &req) != nil || len(req.IDs) == 0 {
		s.newOut(w, r).json(http.StatusOK, []byte(badRequestBody))
		return
	}
	out := make([]map[string]string, 0, len(req.IDs))
	s.files.mu.Lock()
	for _, id := range req.IDs {
		st, known := s.files.files[id]
		status := "failed"
		switch {
		case !known || s.files.fail == UploadParseFail:
		case st == parseIssued:
			status = "pending"
		case st == parseStarted:
			status = "running"
			s.files.files[id] = parseDone
		default:
			status = "success"
		}
		out = append(out, map[string]string{"file_id": id, "status": status})
	}
	s.files.mu.Unlock()
	s.writeJSON(w, r, map[string]any{"success": true, "request_id": newUUID(), "data": out})
}
