package usage

import (
	"errors"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Row is the JSON view of a usage record shared by the admin API and the CLI.
type Row struct {
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

// Day is the JSON view of one UTC day's totals.
type Day struct {
	Day              string `json:"day"`
	Requests         int64  `json:"requests"`
	Errors           int64  `json:"errors"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	ReasoningTokens  int64  `json:"reasoning_tokens"`
	TotalTokens      int64  `json:"total_tokens"`
}

// Rows converts records to their JSON view.
func Rows(recs []store.UsageRecord) []Row {
	out := make([]Row, 0, len(recs))
	for _, u := range recs {
		out = append(out, Row{
			ID: u.ID, Time: u.Time.UTC(), RequestID: u.RequestID, KeyID: u.KeyID, AccountID: u.AccountID, Model: u.Model,
			Stream: u.Stream, PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
			ReasoningTokens: u.ReasoningTokens, TTFTMs: u.TTFT.Milliseconds(), DurationMs: u.Duration.Milliseconds(),
			Status: u.Status, ErrorKind: u.ErrorKind,
		})
	}
	return out
}

// Days converts daily totals to their JSON view.
func Days(days []store.DailyTotal) []Day {
	out := make([]Day, 0, len(days))
	for _, d := range days {
		out = append(out, Day{Day: d.Day, Requests: d.Requests, Errors: d.Errors, PromptTokens: d.PromptTokens,
			CompletionTokens: d.CompletionTokens, ReasoningTokens: d.ReasoningTokens,
			TotalTokens: d.PromptTokens + d.CompletionTokens})
	}
	return out
}

// ErrBadTime is returned by ParseBound for text that is neither form.
var ErrBadTime = errors.New("want RFC 3339 (2026-11-01T15:04:05Z) or a date (2026-11-01)")

// ParseBound parses one end of a time range: RFC 3339, or a UTC date. A date
// given as the end of a range (end) includes that whole day. "" is the zero
// time (unbounded).
func ParseBound(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, ErrBadTime
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}
