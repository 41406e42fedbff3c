package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/usage"
)

// maxUsageRows caps ?limit= on GET /admin/usage.
const maxUsageRows = 10000

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
	writeJSON(w, http.StatusOK, listOf(usage.Rows(rows)))
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
	writeJSON(w, http.StatusOK, listOf(usage.Days(days)))
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
	t, err := usage.ParseBound(q.Get(name), endOfDay)
	if err != nil {
		return time.Time{}, badRequest(name, "%s: %v", name, err)
	}
	return t, nil
}
