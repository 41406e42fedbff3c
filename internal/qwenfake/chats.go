package qwenfake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on stored chats so long load tests do not grow without limit: the
// oldest chats are forgotten first, and a chat keeps its last messages.
const (
	maxChats        = 1 << 16
	maxChatMessages = 64
	chatPageSize    = 20
)

type chat struct {
	id, owner, title, model, chatType string
	created, updated                  int64
	seq                               int64 // store-wide update order, newest highest
	msgs                              []chatMessage
	born                              time.Time // for ChatExpiry
	used                              bool      // a completion was accepted for it
}

type chatMessage struct {
	ID       string `json:"id"`
	ParentID string `json:"parentId"`
	Role     string `json:"role"`
	Content  string `json:"content"`
	Model    string `json:"model,omitempty"`
	TS       int64  `json:"timestamp"`
	phase    string // content_list phase in the detail; "" = answer (t2i.go)
}

type chatStore struct {
	mu     sync.RWMutex
	m      map[string]*chat
	order  []string // creation order, for eviction
	seq    int64
	expiry time.Duration // Options.ChatExpiry
	now    func() time.Time

	used, expired atomic.Int64 // chats that got a completion; unused chats expired
}

func newChatStore(expiry time.Duration, now func() time.Time) chatStore {
	return chatStore{m: map[string]*chat{}, expiry: expiry, now: now}
}

// expiredLocked reports whether c is an unused chat past the expiry.
func (cs *chatStore) expiredLocked(c *chat, now time.Time) bool {
	return cs.expiry > 0 && !c.used && now.Sub(c.born) >= cs.expiry
}

// purge forgets every expired chat (so ChatsAlive does not count them).
func (cs *chatStore) purge() {
	if cs.expiry <= 0 {
		return
	}
	now := cs.now()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for id, c := range cs.m {
		if cs.expiredLocked(c, now) {
			delete(cs.m, id)
			cs.expired.Add(1)
		}
	}
}

// use marks c as used by a completion.
func (cs *chatStore) use(c *chat) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if !c.used {
		c.used = true
		cs.used.Add(1)
	}
}

func (cs *chatStore) add(c *chat) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.seq++
	c.seq = cs.seq
	cs.m[c.id] = c
	cs.order = append(cs.order, c.id)
	for len(cs.m) > maxChats {
		delete(cs.m, cs.order[0])
		cs.order = cs.order[1:]
	}
	if len(cs.order) > 2*maxChats { // drop ids of deleted chats
		cs.order = slices.DeleteFunc(cs.order, func(id string) bool { return cs.m[id] == nil })
	}
}

// get returns the chat id owned by uid, or nil (also once it expired).
func (cs *chatStore) get(id, uid string) *chat {
	cs.mu.RLock()
	c := cs.m[id]
	expired := c != nil && cs.expiredLocked(c, cs.now())
	cs.mu.RUnlock()
	if expired {
		cs.mu.Lock()
		if cs.m[id] == c {
			delete(cs.m, id)
			cs.expired.Add(1)
		}
		cs.mu.Unlock()
		return nil
	}
	if c != nil && c.owner == uid {
		return c
	}
	return nil
}

func (cs *chatStore) len() int {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	return len(cs.m)
}

func (cs *chatStore) remove(id, uid string) bool {
	if cs.get(id, uid) == nil {
		return false
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.m[id]; c != nil && c.owner == uid {
		delete(cs.m, id)
		return true
	}
	return false
}

// addTurn records a finished exchange (user message and answer).
func (cs *chatStore) addTurn(c *chat, p *streamPlan, text string, now int64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	prev := ""
	if n := len(c.msgs); n > 0 {
		prev = c.msgs[n-1].ID
	}
	c.msgs = append(c.msgs,
		chatMessage{ID: p.parentID, ParentID: prev, Role: "user", Content: text, TS: now},
		chatMessage{ID: p.responseID, ParentID: p.parentID, Role: "assistant", Content: p.answerText(), Model: c.model, TS: now})
	if n := len(c.msgs); n > maxChatMessages {
		c.msgs = slices.Clone(c.msgs[n-maxChatMessages:])
	}
	c.updated = now
	cs.seq++
	c.seq = cs.seq
}

func (s *Server) handleNewChat(w http.ResponseWriter, r *http.Request, uid string) {
	o := s.newOut(w, r)
	body, err := s.readBody(r, 64<<10)
	var req struct {
		Title    string   `json:"title"`
		Models   []string `json:"models"`
		ChatMode string   `json:"chat_mode"`
		ChatType string   `json:"chat_type"`
	}
	if err != nil || json.Unmarshal(body, &req) != nil || len(req.Models) == 0 {
		o.json(http.StatusOK, []byte(badRequestBody))
		return
	}
	if !s.chatDelay(r) {
		return // the caller left, or the emulator closes: no chat
	}
	born := s.opts.Now()
	now := born.Unix()
	c := &chat{id: newUUID(), owner: uid, title: req.Title, model: req.Models[0], chatType: req.ChatType, created: now, updated: now, born: born}
	if c.title == "" {
		c.title = "New Chat"
	}
	if c.chatType == "" {
		c.chatType = "t2t"
	}
	s.chats.add(c)
	s.stats.chats.Add(1)
	o.json(http.StatusOK, fmt.Appendf(nil, `{"success":true,"request_id":"%s","data":{"id":"%s"}}`, newUUID(), c.id))
}

// chatDelay waits Options.ChatDelay; false when the request or the
// emulator ended first.
func (s *Server) chatDelay(r *http.Request) bool {
	if s.opts.ChatDelay <= 0 {
		return true
	}
	t := time.NewTimer(s.opts.ChatDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}

// handleListChats serves GET /api/v2/chats/?page=N (1-based; an empty page
// ends paging) and ?limit=N (page size), most recently updated first.
func (s *Server) handleListChats(w http.ResponseWriter, r *http.Request, uid string) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	size, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	page, size = max(page, 1), min(max(size, 0), 1000)
	if size == 0 {
		size = chatPageSize
	}
	type item struct {
		ID        string `json:"id"`
		Title     string `json:"title"`
		CreatedAt int64  `json:"created_at"`
		UpdatedAt int64  `json:"updated_at"`
		ChatType  string `json:"chat_type"`
		seq       int64
	}
	items := []item{}
	s.chats.purge()
	s.chats.mu.RLock()
	for _, c := range s.chats.m {
		if c.owner == uid {
			items = append(items, item{c.id, c.title, c.created, c.updated, c.chatType, c.seq})
		}
	}
	s.chats.mu.RUnlock()
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Compare(b.seq, a.seq)
	})
	from := min((page-1)*size, len(items))
	s.writeJSON(w, r, map[string]any{"success": true, "request_id": newUUID(), "data": items[from:min(from+size, len(items))]})
}

func (s *Server) handleGetChat(w http.ResponseWriter, r *http.Request, uid string) {
	c := s.chats.get(r.PathValue("id"), uid)
	if c == nil {
		s.newOut(w, r).json(http.StatusNotFound, fmt.Appendf(nil, errChatNotFound, newUUID()))
		return
	}
	s.chats.mu.RLock()
	msgs := slices.Clone(c.msgs)
	s.chats.mu.RUnlock()
	type listed struct {
		chatMessage
		ContentList []map[string]any `json:"content_list"`
	}
	list := make([]listed, len(msgs))
	history := make(map[string]any, len(msgs))
	current := ""
	for i, m := range msgs {
		list[i] = listed{chatMessage: m, ContentList: []map[string]any{}}
		if m.Role == "assistant" {
			list[i].ContentList = []map[string]any{{"content": m.Content, "phase": cmp.Or(m.phase, "answer"), "status": "finished", "extra": map[string]any{}}}
		}
		history[m.ID] = list[i]
		current = m.ID
	}
	s.writeJSON(w, r, map[string]any{"success": true, "request_id": newUUID(), "data": map[string]any{
		"id": c.id, "title": c.title, "chat_type": c.chatType, "created_at": c.created, "updated_at": c.updated,
		"currentId": current,
		"chat":      map[string]any{"models": []string{c.model}, "messages": list, "history": map[string]any{"messages": history, "currentId": current}},
	}})
}

func (s *Server) handleDeleteChat(w http.ResponseWriter, r *http.Request, uid string) {
	if !s.chats.remove(r.PathValue("id"), uid) {
		s.newOut(w, r).json(http.StatusNotFound, fmt.Appendf(nil, errChatNotFound, newUUID()))
		return
	}
	s.stats.chatsDeleted.Add(1)
	s.newOut(w, r).json(http.StatusOK, fmt.Appendf(nil, `{"success":true,"request_id":"%s","data":{"status":true}}`, newUUID()))
}

// handleStats serves GET /qwenfake/stats: the Stats snapshot as JSON (no
// token needed; for load tools driving the emulator as a process).
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, s.Stats())
}

// writeJSON encodes v as a 200 JSON reply.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.newOut(w, r).body(http.StatusInternalServerError, "text/plain", []byte(err.Error()))
		return
	}
	s.newOut(w, r).json(http.StatusOK, b)
}
