package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// usageRow is a usage record as the CLI shows it in JSON.
type usageRow struct {
	Time             time.Time `json:"time"`
	RequestID        string    `json:"request_id"`
	KeyID            int64     `json:"key_id"`
	AccountID        int64     `json:"account_id"`
	Model            string    `json:"model"`
	Stream           bool      `json:"stream"`
	Status           int       `json:"status"`
	ErrorKind        string    `json:"error_kind,omitempty"`
	PromptTokens     int       `json:"prompt_tokens"`
	CompletionTokens int       `json:"completion_tokens"`
	ReasoningTokens  int       `json:"reasoning_tokens"`
	TTFTMS           int64     `json:"ttft_ms"`
	DurationMS       int64     `json:"duration_ms"`
}

// dailyRow is one day's totals in JSON.
type dailyRow struct {
	Day              string `json:"day"`
	Requests         int64  `json:"requests"`
	Errors           int64  `json:"errors"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	ReasoningTokens  int64  `json:"reasoning_tokens"`
	TotalTokens      int64  `json:"total_tokens"`
}

// usageCmd runs "qwenrelay usage".
func (c *cli) usageCmd(ctx context.Context, args []string) error {
	t := c.newTool("usage", "usage [--key ID] [--account ID] [--model M] [--from T] [--to T] [--limit N] [--daily] [--json] [flags]",
		"Shows the usage records, newest first, or per-day totals (UTC days) with --daily.\n"+
			"--from and --to take a UTC date (2026-11-01) or an RFC 3339 time; --from is\n"+
			"inclusive, --to exclusive except that a date includes that whole day.")
	var f store.UsageFilter
	t.fs.Int64Var(&f.KeyID, "key", 0, "only this client key (ID)")
	t.fs.Int64Var(&f.AccountID, "account", 0, "only this account (ID)")
	t.fs.StringVar(&f.Model, "model", "", "only this model")
	from := t.fs.String("from", "", "from this time (date or RFC 3339)")
	to := t.fs.String("to", "", "up to this time (date: that day included; RFC 3339: exclusive)")
	t.fs.IntVar(&f.Limit, "limit", 100, "at most this many rows (not with --daily)")
	daily := t.fs.Bool("daily", false, "per-day totals instead of rows")
	asJSON := t.fs.Bool("json", false, "print JSON")
	if err := t.parse(args, 0, 0); err != nil {
		return err
	}
	var err error
	if f.From, err = parseWhen(*from, false); err != nil {
		return fmt.Errorf("usage: --from: %w", err)
	}
	if f.To, err = parseWhen(*to, true); err != nil {
		return fmt.Errorf("usage: --to: %w", err)
	}
	switch {
	case f.KeyID < 0 || f.AccountID < 0:
		return fmt.Errorf("usage: --key and --account take a positive ID")
	case f.Limit <= 0:
		return fmt.Errorf("usage: --limit must be > 0")
	case !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To):
		return fmt.Errorf("usage: --from must be before --to")
	}
	e, err := c.open(ctx, t, false, false)
	if err != nil {
		return err
	}
	defer e.close()
	if *daily {
		return c.usageDaily(ctx, e, f, *asJSON)
	}
	return c.usageRows(ctx, e, f, *asJSON)
}

// parseWhen parses a UTC date or an RFC 3339 time; a date given as an end
// (to) means the end of that day.
func parseWhen(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a date (2026-11-01) or an RFC 3339 time (2026-11-01T15:04:05Z)", s)
	}
	return t, nil
}

func (c *cli) usageRows(ctx context.Context, e *toolEnv, f store.UsageFilter, asJSON bool) error {
	rows, err := e.st.QueryUsage(ctx, f)
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	if asJSON {
		out := make([]usageRow, 0, len(rows))
		for _, r := range rows {
			out = append(out, usageRow{Time: r.Time.UTC(), RequestID: r.RequestID, KeyID: r.KeyID, AccountID: r.AccountID,
				Model: r.Model, Stream: r.Stream, Status: r.Status, ErrorKind: r.ErrorKind,
				PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, ReasoningTokens: r.ReasoningTokens,
				TTFTMS: r.TTFT.Milliseconds(), DurationMS: r.Duration.Milliseconds()})
		}
		return writeJSON(c.stdout, out)
	}
	if len(rows) == 0 {
		fmt.Fprintln(c.stdout, "no usage records match")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tREQUEST\tKEY\tACCOUNT\tMODEL\tSTREAM\tSTATUS\tPROMPT\tCOMPLETION\tREASONING\tTTFT\tDURATION\tERROR")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", fmtTime(r.Time), orDash(r.RequestID),
			idText(r.KeyID), idText(r.AccountID), orDash(r.Model), yesNo(r.Stream), r.Status,
			r.PromptTokens, r.CompletionTokens, r.ReasoningTokens, msText(r.TTFT), msText(r.Duration), orDash(r.ErrorKind))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rows) == f.Limit {
		fmt.Fprintf(c.stderr, "showing the newest %d rows: raise --limit or narrow --from/--to for more\n", f.Limit)
	}
	return nil
}

func (c *cli) usageDaily(ctx context.Context, e *toolEnv, f store.UsageFilter, asJSON bool) error {
	days, err := e.st.DailyTotals(ctx, f)
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	out := make([]dailyRow, 0, len(days))
	for _, d := range days {
		out = append(out, dailyRow{Day: d.Day, Requests: d.Requests, Errors: d.Errors, PromptTokens: d.PromptTokens,
			CompletionTokens: d.CompletionTokens, ReasoningTokens: d.ReasoningTokens, TotalTokens: d.PromptTokens + d.CompletionTokens})
	}
	if asJSON {
		return writeJSON(c.stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(c.stdout, "no usage records match")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DAY\tREQUESTS\tERRORS\tPROMPT\tCOMPLETION\tREASONING\tTOTAL")
	for _, d := range out {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", d.Day, d.Requests, d.Errors, d.PromptTokens,
			d.CompletionTokens, d.ReasoningTokens, d.TotalTokens)
	}
	return tw.Flush()
}

func idText(id int64) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatInt(id, 10)
}

func msText(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
