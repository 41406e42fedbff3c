package qwenfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"strings"
)

// Image answers (docs/qwen-protocol.md §3.5, §6.3, §6.4). A t2i or
// image_edit completion streams response.created, an image_gen typing
// frame whose content is the image URL (with extra.output_image_hw), the
// same frame with status finished, and closes. The URL points at the
// emulator itself (GET /output/…): a PNG made in code whose pixel size
// follows the requested ratio (1:1 → 8×8, 16:9 → 16×9, 4:3 → 8×6, …) and
// whose colour follows the prompt, so a test can check what arrived.
//
// The directive word image=stream (default) | detail | none chooses where
// the URL shows: in the stream, only in the chat detail (the relay's
// fallback, §6.3), or nowhere (an empty answer). fail=empty is image=none;
// fail=quota and the other pre-stream modes answer as for chats, and
// fail=quota_frame / error_frame send their error frame instead of the
// image. An image_edit without files is invalid_input (the upstream's answer is not
// documented; R switches to t2i instead, §6.4).

// imageRatios maps the upstream's ratios to the emulator's pixel sizes.
var imageRatios = map[string][2]int{
	"1:1": {8, 8}, "4:3": {8, 6}, "3:4": {6, 8}, "16:9": {16, 9}, "9:16": {9, 16},
}

const errImageEditNoFile = `{"success":false,"request_id":"%s","data":{"code":"invalid_input","details":"image_edit needs an image in files"}}`

// isImageChat reports whether the request is one of the image chat types.
func isImageChat(req *completionRequest) bool {
	ct := req.chatType()
	return ct == "t2i" || ct == "image_edit"
}

// writeImage answers an accepted t2i or image_edit completion.
func (s *Server) writeImage(o *out, r *http.Request, p *streamPlan, req *completionRequest, c *chat, uid string) {
	last := req.last()
	ct := req.chatType()
	if ct == "image_edit" && len(last.Files) == 0 {
		o.json(http.StatusOK, fmt.Appendf(nil, errImageEditNoFile, newUUID()))
		return
	}
	size := req.Size
	if size == "" {
		size = last.Size
	}
	wh, ok := imageRatios[size]
	if !ok {
		wh = imageRatios["1:1"]
	}
	where := "stream"
	if d, ok := ParseDirective(last.text()); ok && d.Image != "" {
		where = d.Image
	}
	if p.fail.Mode == ModeEmpty {
		where = "none"
	}
	u := s.imageURL(r, uid, ct, p.responseID, wh, len(last.Files), last.text())
	o.w.Header().Set("Cache-Control", "no-cache")
	o.header(http.StatusOK, "text/event-stream; charset=utf-8")
	b := fmt.Appendf(nil, "data: {\"response.created\":{\"chat_id\": %q, \"parent_id\": %q, \"response_id\":%q, \"response_index\": \"0\"}}\n\n",
		p.chatID, p.parentID, p.responseID)
	switch p.fail.Mode {
	case ModeQuotaFrame:
		b = append(append(append(b, "data: "...), frameQuota...), "\n\n"...)
		_ = o.write(b)
		o.close()
		return
	case ModeErrorFrame:
		b = append(append(append(b, "data: "...), frameGeneric...), "\n\n"...)
		_ = o.write(b)
		o.close()
		return
	}
	streamed := ""
	if where == "stream" {
		streamed = u
	}
	for _, status := range []string{"typing", "finished"} {
		f, _ := json.Marshal(map[string]any{
			"choices": []any{map[string]any{"delta": map[string]any{
				"role": "assistant", "content": streamed, "phase": "image_gen", "status": status,
				"extra": map[string]any{"output_image_hw": [][2]int{{wh[1], wh[0]}}},
			}}},
			"response_id": p.responseID,
			"usage":       map[string]any{"input_tokens": p.input, "output_tokens": 1, "total_tokens": p.input + 1},
		})
		b = append(append(append(b, "data: "...), f...), "\n\n"...)
	}
	kept := ""
	if where != "none" {
		kept = u
	}
	// Recorded before the stream ends, so a client that reads the chat
	// detail right after the last frame finds it.
	s.chats.addImageTurn(c, p, last.text(), kept, s.opts.Now().Unix())
	if o.write(b) == nil {
		o.close()
	}
}

// imageURL is the URL of the emulator's image for one answer; its key is a
// hash of the path, checked by handleImage.
func (s *Server) imageURL(r *http.Request, uid, ct, rid string, wh [2]int, files int, prompt string) string {
	h := fnv.New32a()
	h.Write([]byte(prompt))
	path := fmt.Sprintf("/output/%s/%s/%s/%dx%d-%d-%08x.png", uid, ct, rid, wh[0], wh[1], files, h.Sum32())
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path + "?key=" + imageKey(path)
}

func imageKey(path string) string {
	sum := sha256.Sum256([]byte("qwenfake-image:" + path))
	return hex.EncodeToString(sum[:8])
}

// handleImage serves GET /output/… : the PNG named by the path, 403
// without the right key (the upstream CDN's query key, §3.5).
func (s *Server) handleImage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("key") != imageKey(r.URL.Path) {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		return
	}
	name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	var wd, ht, files int
	var col uint32
	if n, _ := fmt.Sscanf(name, "%dx%d-%d-%08x.png", &wd, &ht, &files, &col); n != 4 || wd <= 0 || ht <= 0 || wd > 64 || ht > 64 {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	b := ImagePNG(wd, ht, col)
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// ImagePNG is the emulator's image: w×h pixels of the colour rgb (the low
// 24 bits of col).
func ImagePNG(w, h int, col uint32) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	c := color.NRGBA{R: uint8(col >> 16), G: uint8(col >> 8), B: uint8(col), A: 255}
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// addImageTurn records an image exchange; the answer's content_list entry
// has phase image_gen and the URL ("" when the answer had none).
func (cs *chatStore) addImageTurn(c *chat, p *streamPlan, text, url string, now int64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	prev := ""
	if n := len(c.msgs); n > 0 {
		prev = c.msgs[n-1].ID
	}
	c.msgs = append(c.msgs,
		chatMessage{ID: p.parentID, ParentID: prev, Role: "user", Content: text, TS: now},
		chatMessage{ID: p.responseID, ParentID: p.parentID, Role: "assistant", Content: url, Model: c.model, TS: now, phase: "image_gen"})
	c.updated = now
	cs.seq++
	c.seq = cs.seq
}
