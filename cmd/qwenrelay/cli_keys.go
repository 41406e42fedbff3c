package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

const keysHelp = `Usage: qwenrelay keys <command> [flags]

Manage the client API keys callers send as "Authorization: Bearer sk-qr-…".
Only a hash of each key is stored: the key is shown once, when created.

Commands:
  create --name N [--rpm N] [--concurrency N] [--daily-tokens N] [--models a,b] [--expires 720h]
  list [--json]
  revoke ID
  update ID [--name N] [--rpm N] [--concurrency N] [--daily-tokens N] [--models a,b]
            [--expires D | --no-expiry]     (only the flags given change)

Limits of 0 mean unlimited; an empty --models allows every model. A running
relay sees changes within seconds. Every command also takes --config,
--data-dir, --upstream-url and --log-level; run "qwenrelay keys <command> -h" for its flags.
`

// keysCmd runs "qwenrelay keys ...".
func (c *cli) keysCmd(ctx context.Context, args []string) error {
	return group("keys", keysHelp, args, c.stdout, c.stderr, map[string]func([]string) error{
		"create": func(a []string) error { return c.keysCreate(ctx, a) },
		"list":   func(a []string) error { return c.keysList(ctx, a) },
		"revoke": func(a []string) error { return c.keysRevoke(ctx, a) },
		"update": func(a []string) error { return c.keysUpdate(ctx, a) },
	})
}

// keyFlags are the limit flags shared by create and update.
type keyFlags struct {
	name        string
	rpm, conc   int
	dailyTokens int64
	models      string
	expires     time.Duration
}

func (k *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.name, "name", "", "a label for the key (who or what uses it)")
	fs.IntVar(&k.rpm, "rpm", 0, "requests per minute (0 = unlimited)")
	fs.IntVar(&k.conc, "concurrency", 0, "requests in flight (0 = unlimited)")
	fs.Int64Var(&k.dailyTokens, "daily-tokens", 0, "prompt+completion tokens per UTC day (0 = unlimited)")
	fs.StringVar(&k.models, "models", "", "comma-separated models the key may use (empty = all)")
	fs.DurationVar(&k.expires, "expires", 0, "the key expires this long from now, e.g. 720h (0 = never)")
}

func splitModels(s string) []string {
	out := []string{}
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

func (c *cli) keysCreate(ctx context.Context, args []string) error {
	t := c.newTool("keys create", "keys create --name N [flags]",
		"Issues a client API key and prints it once: it cannot be shown again.")
	var k keyFlags
	k.register(t.fs)
	if err := t.parse(args, 0, 0); err != nil {
		return err
	}
	if strings.TrimSpace(k.name) == "" {
		t.fs.Usage()
		return fmt.Errorf("keys create: --name is required")
	}
	if k.expires < 0 {
		return fmt.Errorf("keys create: --expires must be > 0 (or 0 for never)")
	}
	p := keys.CreateParams{Name: k.name, AllowedModels: splitModels(k.models), RPM: k.rpm,
		MaxConcurrent: k.conc, DailyTokenQuota: k.dailyTokens}
	now := time.Now()
	if k.expires > 0 {
		p.ExpiresAt = now.Add(k.expires)
	}
	e, err := c.open(ctx, t, true, false)
	if err != nil {
		return err
	}
	defer e.close()
	plain, key, err := keys.NewService(e.st, nil, e.st).Create(ctx, p)
	if err != nil {
		return fmt.Errorf("keys create: %w", err)
	}
	fmt.Fprintf(c.stdout, "created key %d\n\n  %s\n\n", key.ID, plain)
	fmt.Fprintln(c.stdout, "This key is shown only once: store it now, it cannot be shown again.")
	printKey(c.stdout, key, now)
	return nil
}

// printKey writes one key's details (never its hash).
func printKey(w io.Writer, k *store.Key, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  id:\t%d\n", k.ID)
	fmt.Fprintf(tw, "  name:\t%s\n", k.Name)
	fmt.Fprintf(tw, "  prefix:\t%s…\n", k.Prefix)
	fmt.Fprintf(tw, "  state:\t%s\n", keyState(k, now))
	fmt.Fprintf(tw, "  expires:\t%s\n", fmtExpiry(k.ExpiresAt, now))
	fmt.Fprintf(tw, "  rpm:\t%s\n", limit(k.RPM))
	fmt.Fprintf(tw, "  concurrency:\t%s\n", limit(k.MaxConcurrent))
	fmt.Fprintf(tw, "  daily tokens:\t%s\n", limit(k.DailyTokenQuota))
	fmt.Fprintf(tw, "  models:\t%s\n", keyModels(k.AllowedModels))
	_ = tw.Flush()
}

func fmtExpiry(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmtRelative(t, now)
}

func keyModels(m []string) string {
	if len(m) == 0 {
		return "all"
	}
	return strings.Join(m, ",")
}

func keyState(k *store.Key, now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now):
		return "expired"
	}
	return "active"
}

// keyView is a key as the CLI shows it in JSON: no hash.
type keyView struct {
	ID              int64     `json:"id"`
	Name            string    `json:"name"`
	Prefix          string    `json:"prefix"`
	State           string    `json:"state"`
	CreatedAt       time.Time `json:"created_at"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
	RevokedAt       time.Time `json:"revoked_at,omitzero"`
	AllowedModels   []string  `json:"allowed_models"`
	RPM             int       `json:"rpm"`
	MaxConcurrent   int       `json:"max_concurrent"`
	DailyTokenQuota int64     `json:"daily_token_quota"`
}

func newKeyView(k *store.Key, now time.Time) keyView {
	m := k.AllowedModels
	if m == nil {
		m = []string{}
	}
	return keyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, State: keyState(k, now), CreatedAt: k.CreatedAt,
		ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, AllowedModels: m,
		RPM: k.RPM, MaxConcurrent: k.MaxConcurrent, DailyTokenQuota: k.DailyTokenQuota}
}

func (c *cli) keysList(ctx context.Context, args []string) error {
	t := c.newTool("keys list", "keys list [--json] [flags]", "Lists the client keys, revoked ones included (prefixes only).")
	asJSON := t.fs.Bool("json", false, "print JSON")
	if err := t.parse(args, 0, 0); err != nil {
		return err
	}
	e, err := c.open(ctx, t, false, false)
	if err != nil {
		return err
	}
	defer e.close()
	list, err := keys.NewService(e.st, nil, e.st).List(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if *asJSON {
		views := make([]keyView, 0, len(list))
		for _, k := range list {
			views = append(views, newKeyView(k, now))
		}
		return writeJSON(c.stdout, views)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "no keys: create one with 'qwenrelay keys create --name NAME'")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSTATE\tCREATED\tEXPIRES\tRPM\tCONCURRENCY\tDAILY TOKENS\tMODELS")
	for _, k := range list {
		exp := "never"
		if !k.ExpiresAt.IsZero() {
			exp = fmtTime(k.ExpiresAt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, orDash(k.Name), k.Prefix, keyState(k, now),
			fmtTime(k.CreatedAt), exp, limit(k.RPM), limit(k.MaxConcurrent), limit(k.DailyTokenQuota), keyModels(k.AllowedModels))
	}
	return tw.Flush()
}

func (c *cli) keysRevoke(ctx context.Context, args []string) error {
	t := c.newTool("keys revoke", "keys revoke ID [flags]", "Switches a key off for good.")
	if err := t.parse(args, 1, 1); err != nil {
		return err
	}
	id, err := t.id(0)
	if err != nil {
		return err
	}
	e, err := c.open(ctx, t, false, false)
	if err != nil {
		return err
	}
	defer e.close()
	if err := keys.NewService(e.st, nil, e.st).Revoke(ctx, id); err != nil {
		return fmt.Errorf("keys revoke: %w", notFoundHint(err))
	}
	fmt.Fprintf(c.stdout, "key %d revoked\n", id)
	return nil
}

func (c *cli) keysUpdate(ctx context.Context, args []string) error {
	t := c.newTool("keys update", "keys update ID [--name N] [--rpm N] [--concurrency N] [--daily-tokens N] [--models a,b] [--expires D|--no-expiry] [flags]",
		"Changes a key's name, limits, models or expiry: only the flags given change.")
	var k keyFlags
	k.register(t.fs)
	noExpiry := t.fs.Bool("no-expiry", false, "the key never expires")
	if err := t.parse(args, 1, 1); err != nil {
		return err
	}
	id, err := t.id(0)
	if err != nil {
		return err
	}
	p, err := updateParams(t.fs, &k, *noExpiry, time.Now())
	if err != nil {
		return err
	}
	e, err := c.open(ctx, t, false, false)
	if err != nil {
		return err
	}
	defer e.close()
	key, err := keys.NewService(e.st, nil, e.st).Update(ctx, id, p)
	if err != nil {
		return fmt.Errorf("keys update: %w", notFoundHint(err))
	}
	fmt.Fprintf(c.stdout, "key %d updated\n", id)
	printKey(c.stdout, key, time.Now())
	return nil
}

// updateParams turns the flags given (fs.Visit) into an update.
func updateParams(fs *flag.FlagSet, k *keyFlags, noExpiry bool, now time.Time) (keys.UpdateParams, error) {
	var p keys.UpdateParams
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			p.Name = &k.name
		case "rpm":
			p.RPM = &k.rpm
		case "concurrency":
			p.MaxConcurrent = &k.conc
		case "daily-tokens":
			p.DailyTokenQuota = &k.dailyTokens
		case "models":
			m := splitModels(k.models)
			p.AllowedModels = &m
		case "expires":
			at := now.Add(k.expires)
			p.ExpiresAt = &at
		case "no-expiry":
			if noExpiry {
				p.ExpiresAt = new(time.Time)
			}
		}
	})
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["expires"] && set["no-expiry"]:
		return p, fmt.Errorf("keys update: --expires and --no-expiry exclude each other")
	case set["expires"] && k.expires <= 0:
		return p, fmt.Errorf("keys update: --expires must be > 0 (use --no-expiry for never)")
	case p == (keys.UpdateParams{}):
		fs.Usage()
		return p, fmt.Errorf("keys update: nothing to change: give at least one of --name, --rpm, --concurrency, --daily-tokens, --models, --expires, --no-expiry")
	}
	return p, nil
}
