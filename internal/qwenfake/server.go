package qwenfake

import (
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Server is the emulated Qwen Chat upstream. It is an http.Handler; its
// methods are safe for concurrent use.
type Server struct {
	opts    Options
	models  map[string]*Model
	mux     *http.ServeMux
	done    chan struct{}
	closeMu sync.Once
	stats   counters
	tokens  tokenCache

	usersMu sync.RWMutex
	users   map[string]*user // by e-mail
	userIDs map[string]*user

	failMu       sync.Mutex
	accountFails map[string]*accountFailure
	idFails      map[string]int

	chats chatStore
	files fileStore
	video videoTasks // t2v tasks (video.go)
}

// New returns an emulator configured by opts.
func New(opts Options) *Server {
	s := &Server{
		opts:         opts.withDefaults(),
		models:       map[string]*Model{},
		mux:          http.NewServeMux(),
		done:         make(chan struct{}),
		users:        map[string]*user{},
		userIDs:      map[string]*user{},
		accountFails: map[string]*accountFailure{},
		idFails:      map[string]int{},
		chats:        newChatStore(opts.ChatExpiry, nil),
		files:        newFileStore(),
	}
	s.chats.now = s.opts.Now
	for i := range s.opts.Models {
		s.models[s.opts.Models[i].ID] = &s.opts.Models[i]
	}
	s.stats.init()
	s.routes()
	return s
}

// routes registers every endpoint; the first argument is the key under
// which Stats counts it.
func (s *Server) routes() {
	s.route("/api/models", s.authed(s.handleModels), "GET /api/models")
	s.route("/api/v2/models/", s.authed(s.handleModelsV2), "GET /api/v2/models/{$}", "GET /api/v2/models")
	s.route("/api/v1/auths/signin", s.handleSignin, "POST /api/v1/auths/signin")
	s.route("/api/v1/auths/", s.authed(s.handleAuths), "GET /api/v1/auths/{$}", "GET /api/v1/auths")
	s.route("/api/v2/chats/new", s.waf(s.authed(s.handleNewChat)), "POST /api/v2/chats/new")
	s.route("/api/v2/chat/completions", s.handleCompletion, "POST /api/v2/chat/completions")
	s.route("/api/v2/chats/", s.waf(s.authed(s.handleListChats)), "GET /api/v2/chats/{$}", "GET /api/v2/chats")
	s.route("/api/v2/chats/{id}", s.waf(s.authed(s.handleGetChat)), "GET /api/v2/chats/{id}")
	s.route("DELETE /api/v2/chats/{id}", s.waf(s.authed(s.handleDeleteChat)), "DELETE /api/v2/chats/{id}")
	s.route("/api/v1/files/getstsToken", s.authed(s.handleSTSv1), "POST /api/v1/files/getstsToken")
	s.route("/api/v2/files/getstsToken", s.authed(s.handleSTSv2), "POST /api/v2/files/getstsToken")
	s.route("/api/v2/files/parse", s.authed(s.handleParse), "POST /api/v2/files/parse")
	s.route("/api/v2/files/parse/status", s.authed(s.handleParseStatus), "POST /api/v2/files/parse/status")
	s.route("/oss/", s.handleOSSPut, "PUT /oss/{bucket}/{key...}")
	s.route("/api/v1/tasks/status/{id}", s.authed(s.handleTaskStatus), "GET /api/v1/tasks/status/{id}")
	s.route("/qwenfake/t2v/", s.handleVideoFile, "GET /qwenfake/t2v/{file}")
	s.route("/api/chat/completions", s.handleLegacy, "POST /api/chat/completions")
	s.route("/output/", s.handleImage, "GET /output/{path...}")
	s.route("/qwenfake/stats", s.handleStats, "GET /qwenfake/stats")
	s.route("other", s.handleNotFound, "/")
}

func (s *Server) route(key string, h http.HandlerFunc, patterns ...string) {
	c := s.stats.path(key)
	for _, p := range patterns {
		s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			c.Add(1)
			h(w, r)
		})
	}
}

// ServeHTTP serves the emulated upstream.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close releases every stalled or paced stream (they abort their
// connection). Call it before shutting down an http.Server that runs the
// emulator, since stall modes otherwise wait for their clients forever.
func (s *Server) Close() { s.closeMu.Do(func() { close(s.done) }) }

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.newOut(w, r).json(http.StatusNotFound, []byte(`{"detail":"Not Found"}`))
}

// userHandler is a handler of an authenticated endpoint; uid is the "id"
// claim of the caller's token.
type userHandler func(w http.ResponseWriter, r *http.Request, uid string)

// authed checks the bearer token and passes the user ID on.
func (s *Server) authed(h userHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		uid, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		h(w, r, uid)
	}
}

// waf enforces Options.RequireHeaders on /api/v2/ chat calls.
func (s *Server) waf(h http.HandlerFunc) http.HandlerFunc {
	if len(s.opts.RequireHeaders) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.checkHeaders(w, r) {
			return
		}
		h(w, r)
	}
}

func (s *Server) checkHeaders(w http.ResponseWriter, r *http.Request) bool {
	for _, name := range s.opts.RequireHeaders {
		if strings.TrimSpace(r.Header.Get(name)) == "" {
			s.stats.fail(ModeWAF)
			s.newOut(w, r).body(http.StatusOK, "text/html; charset=utf-8", wafPage(newUUID()))
			return false
		}
	}
	return true
}

var errTooLarge = errors.New("qwenfake: body too large")

// readBody reads at most limit bytes of the request body.
func (s *Server) readBody(r *http.Request, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	s.stats.bytesIn.Add(int64(len(b)))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// newUUID returns a random UUID v4 (math/rand: ids need not be secret).
func newUUID() string {
	var b [16]byte
	x, y := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(x>>(8*i)), byte(y>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// counters are the Stats counters; the maps are built in New and only read
// afterwards.
type counters struct {
	paths        map[string]*atomic.Int64
	fails        map[string]*atomic.Int64
	completions  atomic.Int64
	chats        atomic.Int64
	chatsDeleted atomic.Int64
	bytesIn      atomic.Int64
	maxBody      atomic.Int64 // largest completion body read
	bytesOut     atomic.Int64

	acctMu   sync.Mutex
	accounts map[string]*acctCounters
}

type acctCounters struct{ requests, inFlight, maxInFlight atomic.Int64 }

func (c *counters) init() {
	c.paths = map[string]*atomic.Int64{}
	c.fails = map[string]*atomic.Int64{"auth": new(atomic.Int64)}
	for _, m := range Modes() {
		c.fails[m] = new(atomic.Int64)
	}
	c.accounts = map[string]*acctCounters{}
}

func (c *counters) path(key string) *atomic.Int64 {
	if c.paths[key] == nil {
		c.paths[key] = new(atomic.Int64)
	}
	return c.paths[key]
}

func (c *counters) fail(mode string) {
	if v := c.fails[mode]; v != nil {
		v.Add(1)
	}
}

func (c *counters) account(uid string) *acctCounters {
	c.acctMu.Lock()
	defer c.acctMu.Unlock()
	a := c.accounts[uid]
	if a == nil {
		a = &acctCounters{}
		c.accounts[uid] = a
	}
	return a
}

// begin counts a completion request of an account as started.
func (a *acctCounters) begin() {
	a.requests.Add(1)
	n := a.inFlight.Add(1)
	for {
		m := a.maxInFlight.Load()
		if n <= m || a.maxInFlight.CompareAndSwap(m, n) {
			return
		}
	}
}

func (a *acctCounters) end() { a.inFlight.Add(-1) }
