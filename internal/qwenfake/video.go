package qwenfake

import (
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// VideoFailMarker in a t2v prompt makes its task fail (after
// Options.VideoPolls "running" polls) instead of succeeding.
const VideoFailMarker = "[[qwenfake video=fail]]"

// videoTask is one t2v task: it belongs to the user that created it (a poll
// by another user finds nothing, like an unknown id).
type videoTask struct {
	uid   string
	polls int
	fail  bool
}

// videoTasks holds the t2v tasks (docs/qwen-protocol.md §6.5). The map is
// made on first use; it is cleared when it reaches maxFiles.
type videoTasks struct {
	mu    sync.Mutex
	tasks map[string]*videoTask
}

func (v *videoTasks) add(uid string, fail bool) string {
	id := newUUID()
	v.mu.Lock()
	if v.tasks == nil || len(v.tasks) >= maxFiles {
		v.tasks = map[string]*videoTask{}
	}
	v.tasks[id] = &videoTask{uid: uid, fail: fail}
	v.mu.Unlock()
	return id
}

// poll counts one poll of id by uid and returns the task's state after it.
func (v *videoTasks) poll(id, uid string) (t videoTask, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.tasks[id]
	if p == nil || p.uid != uid {
		return videoTask{}, false
	}
	p.polls++
	return *p, true
}

// done reports whether id is a task that finished successfully.
func (v *videoTasks) done(id string, need int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.tasks[id]
	return p != nil && !p.fail && p.polls > need
}

// writeVideoTask answers a t2v completion with stream:false (§6.5): the
// task id in data.messages[0].extra.wanx.task_id.
func (s *Server) writeVideoTask(o *out, req *completionRequest, uid string) {
	fail := false
	if m := req.last(); m != nil {
		fail = strings.Contains(m.text(), VideoFailMarker)
	}
	id := s.video.add(uid, fail)
	b, _ := json.Marshal(map[string]any{"success": true, "request_id": newUUID(), "data": map[string]any{
		"model": req.model(), "messages": []any{map[string]any{"role": "assistant", "content": "",
			"extra": map[string]any{"wanx": map[string]any{"task_id": id}}}}}})
	o.json(http.StatusOK, b)
}

// newTask issues a task id for the era-1 t2i reply (legacy.go).
func (s *Server) newTask() string { return s.video.add("", false) }

// handleTaskStatus serves GET /api/v1/tasks/status/{id}: "running" (with a
// progress) for Options.VideoPolls polls, then "success" with the URL of
// the emulator's own tiny mp4, or "failed"; an unknown id, or another
// user's, is "failed".
func (s *Server) handleTaskStatus(w http.ResponseWriter, r *http.Request, uid string) {
	id := r.PathValue("id")
	t, ok := s.video.poll(id, uid)
	out := map[string]any{"task_id": id, "task_status": "failed", "content": ""}
	switch {
	case !ok:
		out["message"] = "task not found"
	case t.polls <= s.opts.VideoPolls:
		out["task_status"], out["progress"] = "running", (t.polls-1)*100/s.opts.VideoPolls
	case t.fail:
		out["message"] = "video generation failed"
	default:
		out["task_status"] = "success"
		out["content"] = "http://" + r.Host + "/qwenfake/t2v/" + id + ".mp4?key=qwenfake"
	}
	s.writeJSON(w, r, out)
}

// handleVideoFile serves a finished task's video: GET
// /qwenfake/t2v/{id}.mp4?key=qwenfake (no token, like a signed CDN link).
func (s *Server) handleVideoFile(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".mp4")
	if !ok || r.URL.Query().Get("key") != "qwenfake" || !s.video.done(id, s.opts.VideoPolls) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	b := VideoFile(id)
	w.Header().Set("Content-Type", "video/mp4")
	_, _ = w.Write(b)
}

// VideoFile is the mp4-like file served for task id: an ftyp box and an
// mdat box holding the id repeated (4 KiB or so), so a test can check that
// the bytes came through whole.
func VideoFile(id string) []byte {
	ftyp := append([]byte{0, 0, 0, 24}, "ftypisom\x00\x00\x02\x00isommp41"...)
	payload := []byte(strings.Repeat(id, 4096/max(len(id), 1)+1))
	mdat := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
	mdat = append(append(mdat, "mdat"...), payload...)
	return append(ftyp, mdat...)
}
