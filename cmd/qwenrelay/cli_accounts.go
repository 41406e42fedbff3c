package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/pool"
	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

const accountsHelp = `Usage: qwenrelay accounts <command> [flags]

Manage the pool of Qwen Chat accounts in the relay's store. A running relay
picks changes up by itself within 15 seconds.

Commands:
  add --token TOKEN|-  [--name N] [--proxy URL] [--max-concurrent N] [--min-interval D] [--no-check]
  add --email E --password-stdin [--name N] [...]
                       check an account against the upstream and store it (encrypted);
                       one behind a captcha right now is stored quarantined
  list [--json]        list the accounts (never shows a secret)
  enable ID            make an account active again (after a captcha, a new token…)
  disable ID           switch an account off
  delete ID            remove an account
  update ID [--name N] [--token TOKEN|-] [--proxy URL] [--max-concurrent N] [--min-interval D]
                       change an account (a running relay never undoes it)
  test ID              probe an account upstream now and apply the result

Every command also takes --config, --data-dir, --upstream-url and --log-level;
run "qwenrelay accounts <command> -h" for its flags.
`

// accountsCmd runs "qwenrelay accounts ...".
func (c *cli) accountsCmd(ctx context.Context, args []string) error {
	return group("accounts", accountsHelp, args, c.stdout, c.stderr, map[string]func([]string) error{
		"add":     func(a []string) error { return c.accountsAdd(ctx, a) },
		"list":    func(a []string) error { return c.accountsList(ctx, a) },
		"enable":  func(a []string) error { return c.accountsByID(ctx, "enable", a) },
		"disable": func(a []string) error { return c.accountsByID(ctx, "disable", a) },
		"delete":  func(a []string) error { return c.accountsByID(ctx, "delete", a) },
		"test":    func(a []string) error { return c.accountsByID(ctx, "test", a) },
		"update":  func(a []string) error { return c.accountsUpdate(ctx, a) },
	})
}

func (c *cli) accountsAdd(ctx context.Context, args []string) error {
	t := c.newTool("accounts add", "accounts add (--token TOKEN|- | --email E --password-stdin) [flags]",
		"Checks the account against the upstream (a token is decoded and the model list probed;\n"+
			"an e-mail and password sign in first) and stores it, secrets encrypted. An account\n"+
			"the upstream answers with a captcha right now is stored quarantined, with the\n"+
			"captcha URL to solve; --no-check stores it without any probe.\n"+
			"Use --token - to read the token from standard input, keeping it out of\n"+
			"the shell history and the process list.")
	var in store.Account
	t.fs.StringVar(&in.Token, "token", "", "the account's Qwen token (JWT), or - to read it from standard input")
	t.fs.StringVar(&in.Email, "email", "", "the account's e-mail (with --password-stdin: sign in, and again when the token expires)")
	pwStdin := t.fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	t.fs.StringVar(&in.Name, "name", "", "a unique label (default: the e-mail, or token-<hash>)")
	t.fs.StringVar(&in.Proxy, "proxy", "", "outbound proxy of this account: http://, https:// or socks5://")
	t.fs.IntVar(&in.MaxConcurrent, "max-concurrent", 0, "requests in flight on this account (0 = the pool default)")
	t.fs.DurationVar(&in.MinInterval, "min-interval", 0, "minimum time between two requests on this account (0 = the pool default)")
	var opts pool.AddOptions
	t.fs.BoolVar(&opts.NoCheck, "no-check", false, "store without probing the upstream (with --email the sign-in still runs, to get a token)")
	if err := t.parse(args, 0, 0); err != nil {
		return err
	}
	if err := c.addSecrets(t, &in, *pwStdin); err != nil {
		return err
	}
	if opts.NoCheck && in.Token != "" {
		if err := config.CheckQwenToken(in.Token); err != nil {
			return fmt.Errorf("accounts add: the token %w (with --no-check it is stored as given: paste the JWT from chat.qwen.ai)", err)
		}
	}
	e, err := c.open(ctx, t, true, true)
	if err != nil {
		return err
	}
	defer e.close()
	acc, err := e.pool.AddAccount(ctx, &in, opts)
	if err != nil {
		return fmt.Errorf("accounts add: %w", err)
	}
	st, ok := findStatus(e.pool.Status(ctx), acc.ID)
	if !ok { // deleted meanwhile: show what AddAccount returned
		st = pool.AccountStatus{ID: acc.ID, Name: acc.Name, State: acc.State, Reason: acc.StateReason,
			TokenExpiry: acc.TokenExpiry, Models: acc.Models}
	}
	masked := st.TokenPrefix
	if in.Token != "" {
		masked = secrets.Mask(in.Token)
	}
	switch {
	case st.State == store.StateQuarantined:
		fmt.Fprintf(c.stdout, "added account %d, QUARANTINED: the upstream answers it with a captcha right now.\n"+
			"  Open the captcha URL below in a browser signed in to chat.qwen.ai as this account and pass\n"+
			"  the check, then run 'qwenrelay accounts enable %d'.%s\n", st.ID, st.ID, probeNote(e.cfg))
	case opts.NoCheck:
		fmt.Fprintf(c.stdout, "added account %d (not checked upstream: the first request will tell)\n", st.ID)
	default:
		fmt.Fprintf(c.stdout, "added account %d\n", st.ID)
	}
	printAccount(c.stdout, st, masked, time.Now())
	return nil
}

// probeNote says when a running relay re-probes a quarantined account.
func probeNote(cfg config.Config) string {
	if !cfg.QuarantineProbe {
		return ""
	}
	return fmt.Sprintf("\n  A running relay also re-probes it by itself, first after %s.", cfg.QuarantineProbeFirst)
}

// addSecrets checks the credential flags of "accounts add" and reads the
// token or password from standard input when asked to.
func (c *cli) addSecrets(t *toolCmd, in *store.Account, pwStdin bool) error {
	name := t.fs.Name()
	switch {
	case in.Token == "" && in.Email == "":
		t.fs.Usage()
		return fmt.Errorf("%s: give --token, or --email with --password-stdin", name)
	case pwStdin && in.Email == "":
		return fmt.Errorf("%s: --password-stdin needs --email", name)
	case pwStdin && in.Token == "-":
		return fmt.Errorf("%s: --token - and --password-stdin both read standard input: use one", name)
	case in.Email != "" && in.Token == "" && !pwStdin:
		return fmt.Errorf("%s: --email needs --password-stdin (the password is read from standard input, never a flag)", name)
	case in.MaxConcurrent < 0:
		return fmt.Errorf("%s: --max-concurrent must be >= 0", name)
	case in.MinInterval < 0:
		return fmt.Errorf("%s: --min-interval must be >= 0", name)
	}
	var err error
	if in.Token == "-" {
		if in.Token, err = readSecret(c.stdin, "token"); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		in.Token = strings.TrimSpace(in.Token)
	}
	if pwStdin {
		if in.Password, err = readSecret(c.stdin, "password"); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func findStatus(list []pool.AccountStatus, id int64) (pool.AccountStatus, bool) {
	for _, s := range list {
		if s.ID == id {
			return s, true
		}
	}
	return pool.AccountStatus{}, false
}

// printAccount writes one account's details; token is already masked.
func printAccount(w io.Writer, s pool.AccountStatus, token string, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  name:\t%s\n", s.Name)
	if s.Email != "" {
		fmt.Fprintf(tw, "  email:\t%s\n", s.Email)
	}
	fmt.Fprintf(tw, "  state:\t%s\n", s.State)
	if s.Reason != "" {
		fmt.Fprintf(tw, "  reason:\t%s\n", s.Reason)
	}
	if !s.CoolUntil.IsZero() {
		fmt.Fprintf(tw, "  cool until:\t%s\n", fmtRelative(s.CoolUntil, now))
	}
	if s.PunishURL != "" {
		fmt.Fprintf(tw, "  captcha URL:\t%s\n", s.PunishURL)
	}
	fmt.Fprintf(tw, "  token expiry:\t%s\n", fmtRelative(s.TokenExpiry, now))
	fmt.Fprintf(tw, "  token:\t%s\n", orDash(token))
	fmt.Fprintf(tw, "  password:\t%s\n", yesNo(s.HasPassword))
	fmt.Fprintf(tw, "  models:\t%s\n", modelsText(s.Models))
	_ = tw.Flush()
}

func (c *cli) accountsList(ctx context.Context, args []string) error {
	t := c.newTool("accounts list", "accounts list [--json] [flags]",
		"Lists the accounts: state, token expiry, a masked token prefix. Never a secret.\n"+
			"(In-flight and request counters are those of this command, always 0: ask the\n"+
			"admin API of the running relay for live numbers.)")
	asJSON := t.fs.Bool("json", false, "print JSON (the admin API's account status objects)")
	if err := t.parse(args, 0, 0); err != nil {
		return err
	}
	e, err := c.open(ctx, t, false, true)
	if err != nil {
		return err
	}
	defer e.close()
	list := e.pool.Status(ctx)
	if *asJSON {
		return writeJSON(c.stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "no accounts: add one with 'qwenrelay accounts add --token -'")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATE\tREASON\tCOOL UNTIL\tTOKEN EXPIRY\tTOKEN\tPASSWORD\tMODELS")
	for _, s := range list {
		cool := "-"
		if !s.CoolUntil.IsZero() {
			cool = fmtTime(s.CoolUntil)
		}
		exp := fmtTime(s.TokenExpiry)
		if !s.TokenExpiry.IsZero() && s.TokenExpiry.Before(now) {
			exp += " (expired)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", s.ID, s.Name, s.State, orDash(s.Reason),
			cool, exp, orDash(s.TokenPrefix), yesNo(s.HasPassword), len(s.Models))
	}
	return tw.Flush()
}

// accountsByID runs enable, disable, delete or test on one account.
func (c *cli) accountsByID(ctx context.Context, verb string, args []string) error {
	about := map[string]string{
		"enable":  "Makes an account active again, whatever its state (captcha solved, token replaced…).",
		"disable": "Switches an account off; requests in flight finish normally.",
		"delete":  "Removes an account from the store; requests in flight finish normally.",
		"test":    "Probes the account upstream now (the model list) and applies the result:\nsuccess makes a cooling, quarantined or invalid account active again.",
	}[verb]
	t := c.newTool("accounts "+verb, "accounts "+verb+" ID [flags]", about)
	if err := t.parse(args, 1, 1); err != nil {
		return err
	}
	id, err := t.id(0)
	if err != nil {
		return err
	}
	e, err := c.open(ctx, t, false, true)
	if err != nil {
		return err
	}
	defer e.close()
	switch verb {
	case "enable", "disable":
		err = e.pool.SetDisabled(ctx, id, verb == "disable")
	case "delete":
		err = e.pool.DeleteAccount(ctx, id)
	case "test":
		return c.accountsTest(ctx, e, id)
	}
	if err != nil {
		return fmt.Errorf("accounts %s: %w", verb, notFoundHint(err))
	}
	fmt.Fprintf(c.stdout, "account %d %sd\n", id, verb) // enabled, disabled, deleted
	return nil
}

func (c *cli) accountsTest(ctx context.Context, e *toolEnv, id int64) error {
	st, err := e.pool.TestAccount(ctx, id)
	if st.ID == 0 {
		return fmt.Errorf("accounts test: %w", notFoundHint(err))
	}
	if err != nil {
		fmt.Fprintf(c.stdout, "account %d: test failed\n", id)
	} else {
		fmt.Fprintf(c.stdout, "account %d: test passed\n", id)
	}
	printAccount(c.stdout, st, st.TokenPrefix, time.Now())
	if err != nil {
		return fmt.Errorf("accounts test: %w", err)
	}
	return nil
}

// notFoundHint points at the list command when an ID does not exist.
func notFoundHint(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w (see the list command for IDs)", err)
	}
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func modelsText(models []string) string {
	if len(models) == 0 {
		return "unknown (all)"
	}
	const show = 6
	if len(models) <= show {
		return fmt.Sprintf("%d: %s", len(models), strings.Join(models, ", "))
	}
	return fmt.Sprintf("%d: %s, …", len(models), strings.Join(models[:show], ", "))
}
