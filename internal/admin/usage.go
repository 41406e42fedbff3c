package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// maxUsageRows caps ?limit= on GET /admin/usage.
const maxUsageRows = 10000

type usageRow struct {
	ID               int64     `json:"id"`
	Time             time.Time `json:"time"`
	RequestID        string    `json:"request_id"`
	KeyID            int64     `json:"key_id"`
	AccountID        int64     `json:"account_id"`
	Model            string    `json:"model"`
	Stream           bool      `json:"stream"`
	PromptTokens     int       `json:"prompt_tokens"`
	CompletionTokens int       `json:"completion_tokens"`
	ReasoningTokens  int       `json:"reasoning_tokens"`
	TTFTMs           int64     `json:"ttft_ms"`
	DurationMs       int64     `json:"duration_ms"`
	Status           int       `json:"status"`
	ErrorKind        string    `json:"error_kind"`
}

type dailyRow struct {
	Day              string `json:"day"`
	Requests         int64  `json:"requests"`
	Errors           int64  `json:"errors"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	ReasoningTokens  int64  `json:"reasoning_tokens"`
	TotalTokens      int64  `json:"total_tokens"`
}

// GET /admin/usage?key_id=&account_id=&model=&from=&to=&limit=
func (h *handler) queryUsage(w http.ResponseWriter, r *http.Request) {
	f, err := usageFilter(r.URL.Query(), true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rows, err := h.usage.QueryUsage(r.Context(), f)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]usageRow, 0, len(rows))
	for _, u := range rows {
		out = append(out, usageRow{
			ID: u.ID, Time: u.Time, RequestID: u.RequestID, KeyID: u.KeyID, AccountID: u.AccountID, Model: u.Model,
			Stream: u.Stream, PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
			ReasoningTokens: u.ReasoningTokens, TTFTMs: u.TTFT.Milliseconds(), DurationMs: u.Duration.Milliseconds(),
			Status: u.Status, ErrorKind: u.ErrorKind,
		})
	}
	writeJSON(w, http.StatusOK, listOf(out))
}

// GET /admin/usage/daily?key_id=&account_id=&model=&from=&to=
func (h *handler) dailyUsage(w http.ResponseWriter, r *http.Request) {
	f, err := usageFilter(r.URL.Query(), false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	days, err := h.usage.DailyTotals(r.Context(), f)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]dailyRow, 0, len(days))
	for _, d := range days {
		out = append(out, dailyRow{Day: d.Day, Requests: d.Requests, Errors: d.Errors, PromptTokens: d.PromptTokens,
			CompletionTokens: d.CompletionTokens, ReasoningTokens: d.ReasoningTokens,
			TotalTokens: d.PromptTokens + d.CompletionTokens})
	}
	writeJSON(w, http.StatusOK, listOf(out))
}

// usageFilter parses the query. from/to take RFC 3339 or YYYY-MM-DD (UTC);
// from is inclusive, to is exclusive, except that a bare date as to
// includes that whole day.
func usageFilter(q url.Values, withLimit bool) (store.UsageFilter, error) {
	var f store.UsageFilter
	var err error
	if f.KeyID, err = queryID(q, "key_id"); err != nil {
		return f, err
	}
	if f.AccountID, err = queryID(q, "account_id"); err != nil {
		return f, err
	}
	f.Model = q.Get("model")
	if f.From, err = queryTime(q, "from", false); err != nil {
		return f, err
	}
	if f.To, err = queryTime(q, "to", true); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, badRequest("from", "from must be before to")
	}
	if s := q.Get("limit"); s != "" {
		if !withLimit {
			return f, badRequest("limit", "limit applies to /admin/usage only")
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxUsageRows {
			return f, badRequest("limit", "limit must be between 1 and %d", maxUsageRows)
		}
		f.Limit = n
	}
	return f, nil
}

func queryID(q url.Values, name string) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest(name, "%s must be a non-negative integer", name)
	}
	return n, nil
}

func queryTime(q url.Values, name string, endOfDay bool) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, badRequest(name, "%s must be RFC 3339 (2025-01-02T15:04:05Z) or a date (2025-01-02)", name)
	}
	if endOfDay {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}
