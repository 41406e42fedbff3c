package qwenfake

// Stats are counters of what the emulator received.
type Stats struct {
	// Paths counts requests per endpoint, keyed by path ("/api/v2/chat/completions",
	// "/api/v2/chats/{id}", "DELETE /api/v2/chats/{id}", "other" for unknown paths).
	Paths map[string]int64
	// Failures counts failures served, per mode (see Modes), plus "auth" for
	// rejected tokens. Missing RequireHeaders count as "waf" and oversize
	// bodies as "captcha".
	Failures     map[string]int64
	Completions  int64 // completion requests (v2 and era 1), whatever their outcome
	ChatsNew     int64 // chats created
	ChatsDeleted int64 // chats deleted (DELETE /api/v2/chats/{id} that found the chat)
	ChatsAlive   int64 // chats stored now (created, not deleted nor evicted nor expired; Reset keeps them)
	ChatsUsed    int64 // chats for which a completion was accepted
	ChatsExpired int64 // unused chats gone after Options.ChatExpiry
	BytesIn      int64 // request body bytes read
	BytesOut     int64 // response body bytes written (before gzip)
	// MaxCompletionBody is the size of the largest completion body read
	// (v2 and era 1, oversize ones excluded): a test proves a relay kept
	// under the size wall (docs/qwen-protocol.md §11.6).
	MaxCompletionBody int64
}

// AccountStats are the completion-stream counters of one account.
type AccountStats struct {
	Requests    int64 // authenticated completion requests
	InFlight    int64 // currently being served
	MaxInFlight int64 // high-water mark of InFlight
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.chats.purge()
	st := Stats{
		Paths:             make(map[string]int64, len(s.stats.paths)),
		Failures:          make(map[string]int64, len(s.stats.fails)),
		Completions:       s.stats.completions.Load(),
		ChatsNew:          s.stats.chats.Load(),
		ChatsDeleted:      s.stats.chatsDeleted.Load(),
		ChatsAlive:        int64(s.chats.len()),
		ChatsUsed:         s.chats.used.Load(),
		ChatsExpired:      s.chats.expired.Load(),
		BytesIn:           s.stats.bytesIn.Load(),
		BytesOut:          s.stats.bytesOut.Load(),
		MaxCompletionBody: s.stats.maxBody.Load(),
	}
	for k, v := range s.stats.paths {
		if n := v.Load(); n != 0 {
			st.Paths[k] = n
		}
	}
	for k, v := range s.stats.fails {
		if n := v.Load(); n != 0 {
			st.Failures[k] = n
		}
	}
	return st
}

// Account returns the counters of userID's completion streams.
func (s *Server) Account(userID string) AccountStats {
	s.stats.acctMu.Lock()
	a := s.stats.accounts[userID]
	s.stats.acctMu.Unlock()
	if a == nil {
		return AccountStats{}
	}
	return AccountStats{Requests: a.requests.Load(), InFlight: a.inFlight.Load(), MaxInFlight: a.maxInFlight.Load()}
}

// Reset zeroes the counters and the per-id directive failure counters.
// InFlight keeps counting live streams; MaxInFlight restarts from it.
// Users, chats, files and account failures are kept.
func (s *Server) Reset() {
	for _, v := range s.stats.paths {
		v.Store(0)
	}
	for _, v := range s.stats.fails {
		v.Store(0)
	}
	s.stats.completions.Store(0)
	s.stats.chats.Store(0)
	s.stats.chatsDeleted.Store(0)
	s.chats.used.Store(0)
	s.chats.expired.Store(0)
	s.stats.bytesIn.Store(0)
	s.stats.bytesOut.Store(0)
	s.stats.maxBody.Store(0)
	s.stats.acctMu.Lock()
	for _, a := range s.stats.accounts {
		a.requests.Store(0)
		a.maxInFlight.Store(a.inFlight.Load())
	}
	s.stats.acctMu.Unlock()
	s.failMu.Lock()
	clear(s.idFails)
	s.failMu.Unlock()
}
