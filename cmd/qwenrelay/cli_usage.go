package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/usage"
)

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
	if f.From, err = usage.ParseBound(*from, false); err != nil {
		return fmt.Errorf("usage: --from: %w", err)
	}
	if f.To, err = usage.ParseBound(*to, true); err != nil {
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

func (c *cli) usageRows(ctx context.Context, e *toolEnv, f store.UsageFilter, asJSON bool) error {
	rows, err := e.st.QueryUsage(ctx, f)
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	if asJSON {
		return writeJSON(c.stdout, usage.Rows(rows))
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
	out := usage.Days(days)
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
