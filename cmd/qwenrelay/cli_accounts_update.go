package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/pool"
	"github.com/qwenrelay/qwenrelay/internal/secrets"
)

// accountsUpdate runs "accounts update ID [flags]": an operator's edit of
// an account's name, token, proxy or limits. Only the flags given change
// anything. It is a compare-and-swap write on the stored record, so a
// running relay's own saves never undo it.
func (c *cli) accountsUpdate(ctx context.Context, args []string) error {
	t := c.newTool("accounts update", "accounts update ID [--name N] [--token TOKEN|-] [--proxy URL] [--max-concurrent N] [--min-interval D] [flags]",
		"Changes an account: only the flags given are applied. A new token is stored as given\n"+
			"(run 'accounts test ID' to check it) and makes an invalid account active again.\n"+
			"--proxy \"\" removes the proxy. A running relay picks the change up within 15 seconds\n"+
			"and never overwrites it with its own state saves.")
	name := t.fs.String("name", "", "a new unique label")
	token := t.fs.String("token", "", "a replacement Qwen token (JWT), or - to read it from standard input")
	proxy := t.fs.String("proxy", "", "outbound proxy: http://, https:// or socks5:// (\"\" = none)")
	maxConc := t.fs.Int("max-concurrent", 0, "requests in flight on this account (0 = the pool default)")
	minInt := t.fs.Duration("min-interval", 0, "minimum time between two requests on this account (0 = the pool default)")
	if err := t.parse(args, 1, 1); err != nil {
		return err
	}
	id, err := t.id(0)
	if err != nil {
		return err
	}
	var ed pool.AccountEdit
	set := map[string]bool{}
	t.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["name"] && !set["token"] && !set["proxy"] && !set["max-concurrent"] && !set["min-interval"] {
		t.fs.Usage()
		return fmt.Errorf("accounts update: give at least one of --name, --token, --proxy, --max-concurrent, --min-interval")
	}
	if set["name"] {
		ed.Name = name
	}
	if set["proxy"] {
		ed.Proxy = proxy
	}
	if set["max-concurrent"] {
		if *maxConc < 0 {
			return fmt.Errorf("accounts update: --max-concurrent must be >= 0")
		}
		ed.MaxConcurrent = maxConc
	}
	if set["min-interval"] {
		if *minInt < 0 {
			return fmt.Errorf("accounts update: --min-interval must be >= 0")
		}
		ed.MinInterval = minInt
	}
	if set["token"] {
		if *token == "-" {
			if *token, err = readSecret(c.stdin, "token"); err != nil {
				return fmt.Errorf("accounts update: %w", err)
			}
		}
		*token = strings.TrimSpace(*token)
		if err := config.CheckQwenToken(*token); err != nil {
			return fmt.Errorf("accounts update: the token %w (paste the JWT from chat.qwen.ai)", err)
		}
		ed.Token = token
	}
	e, err := c.open(ctx, t, false, true)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.pool.EditAccount(ctx, id, ed); err != nil {
		return fmt.Errorf("accounts update: %w", notFoundHint(err))
	}
	st, ok := findStatus(e.pool.Status(ctx), id)
	if !ok {
		return fmt.Errorf("accounts update: account %d vanished meanwhile", id)
	}
	masked := st.TokenPrefix
	if ed.Token != nil {
		masked = secrets.Mask(*ed.Token)
	}
	fmt.Fprintf(c.stdout, "account %d updated\n", id)
	printAccount(c.stdout, st, masked, time.Now())
	return nil
}
