package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// writeFaults prints the fault soak: one line per round, the errors by
// code, exact answers per fault kind and round, samples, and the verdict.
func writeFaults(w io.Writer, f *FaultsResult) {
	fmt.Fprintf(w, "\n== faults: n=%d c=%d tokens=%d per round; soft %.0f%% (%s); hard %.0f%% (%s); relay first_byte_timeout %s; --fault-seed %s\n",
		f.N, f.C, f.Tokens, f.Mix.Soft*100, strings.Join(f.SoftKinds, " "), f.Mix.Hard*100,
		strings.Join(f.HardKinds, " "), f.FirstByteTimeout, f.Seed)
	if !f.Available {
		fmt.Fprintf(w, "not measured: %s\n", f.Reason)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "accounts\trequests\texact\ttyped err\tuntyped err\twrong\tempty\tnot run\tsoft exact\thard exact\tclean exact\tgoroutines before→after\tfds before→after\telapsed\tverdict\t")
	for _, r := range f.Rounds {
		if !r.Available {
			fmt.Fprintf(tw, "%d\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\tFAIL\t\n", r.Accounts, r.Requests)
			continue
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s→%s\t%d→%d\t%.1fs\t%s\t\n",
			r.Accounts, r.Requests, pct(r.Exact, r.Requests), pct(r.Typed, r.Requests), r.Untyped, r.Wrong, r.Empty,
			r.NotStarted, ratioText(r.ByClass[string(classSoft)]), ratioText(r.ByClass[string(classHard)]),
			ratioText(r.ByClass[string(classClean)]), count(r.GoroutinesBefore), count(r.GoroutinesAfter),
			r.Before.FDs, r.After.FDs, r.ElapsedSec, passWord(r.Pass))
	}
	_ = tw.Flush()
	writeFaultKinds(w, f)
	for _, r := range f.Rounds {
		writeRoundProblems(w, r)
	}
	verdict := passWord(f.Pass)
	fmt.Fprintf(w, "target: every soft-faulted and clean request answered exactly, 0 wrong or empty answers, "+
		"fds/goroutines back within +%d/+%d: %s\n", faultSlack().fds, faultSlack().goroutines, verdict)
}

// writeFaultKinds prints exact/requests per fault kind (rows) and round
// (columns).
func writeFaultKinds(w io.Writer, f *FaultsResult) {
	fmt.Fprintln(w, "exact answers by fault kind (exact/requests):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "kind\t"
	for _, r := range f.Rounds {
		header += fmt.Sprintf("%d acct\t", r.Accounts)
	}
	fmt.Fprintln(tw, header)
	kinds := append(slices.Clone(f.SoftKinds), f.HardKinds...)
	for _, k := range append(kinds, string(classClean)) {
		line := k + "\t"
		for _, r := range f.Rounds {
			line += ratioText(r.ByKind[k]) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
}

// writeRoundProblems prints why a round was not measured, its errors by
// code and kind, and samples of errors and wrong answers.
func writeRoundProblems(w io.Writer, r *FaultRound) {
	if r.Reason != "" {
		fmt.Fprintf(w, "  %d acct: not measured: %s\n", r.Accounts, oneLine(r.Reason))
	}
	if len(r.TypedByCode) > 0 {
		fmt.Fprintf(w, "  %d acct typed errors: %s\n", r.Accounts, byCount(r.TypedByCode))
	}
	if len(r.UntypedByKind) > 0 {
		fmt.Fprintf(w, "  %d acct untyped errors: %s\n", r.Accounts, byCount(r.UntypedByKind))
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "  %d acct error: %s\n", r.Accounts, oneLine(e))
	}
	for _, c := range r.WrongSamples {
		fmt.Fprintf(w, "  %d acct WRONG: %s\n", r.Accounts, oneLine(c))
	}
	if r.Available && !r.Released {
		fmt.Fprintf(w, "  %d acct LEAK: fds %d→%d, goroutines %s→%s after %s idle\n", r.Accounts,
			r.Before.FDs, r.After.FDs, count(r.GoroutinesBefore), count(r.GoroutinesAfter), faultSlack().wait)
	}
}

// byCount lists "label ×n" entries, most frequent first.
func byCount(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(keys, func(a, b string) int { return m[b] - m[a] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func pct(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", float64(n)*100/float64(of))
}

func ratioText(c ClassCount) string {
	if c.Requests == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", c.Exact, c.Requests)
}

func passWord(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}
