package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// soakTokenTTL is the lifetime of the accounts' first tokens: the
// emulator's sign-in lifetime, so the relay's refresh-before-expiry (24 h
// by default) does not sign in again during the soak.
const soakTokenTTL = 30 * 24 * time.Hour

// soakEmulator is the emulator of the fault soak, served by this process:
// re-login after a rejected token needs accounts whose e-mail and password
// the emulator knows (qwenfake.Server.AddUser), which the emulator process
// ("qwenrelay emulator") cannot be told. It listens on loopback only.
type soakEmulator struct {
	fake *qwenfake.Server
	srv  *http.Server
	url  string
	errc chan error
}

func startSoakEmulator(secret string, tokens int) (*soakEmulator, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: emulator: %w", err)
	}
	fake := qwenfake.New(qwenfake.Options{Secret: []byte(secret), DefaultTokens: tokens})
	e := &soakEmulator{
		fake: fake, srv: &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second},
		url: "http://" + ln.Addr().String(), errc: make(chan error, 1),
	}
	go func() { e.errc <- e.srv.Serve(ln) }()
	return e, nil
}

// closeIdle closes the emulator's idle connections (the relay's idle
// upstream connections), so the relay's descriptors can be compared
// before and after a round without its connection pool in the way.
func (e *soakEmulator) closeIdle() {
	e.srv.SetKeepAlivesEnabled(false) // closes the idle connections
	e.srv.SetKeepAlivesEnabled(true)
}

// close releases stalled streams, then shuts the server down.
func (e *soakEmulator) close() {
	e.fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		_ = e.srv.Close()
	}
	<-e.errc
}

// soakAccount is one Qwen account of the soak, known to the emulator.
type soakAccount struct {
	email, password string
	token           string
	expiry          time.Time
}

// addAccounts registers n accounts with random passwords in the emulator
// and mints a first token for each.
func (e *soakEmulator) addAccounts(n int) []soakAccount {
	out := make([]soakAccount, n)
	for i := range out {
		a := soakAccount{email: fmt.Sprintf("soak-%d@qwenfake.invalid", i+1), password: newID()}
		uid := e.fake.AddUser(a.email, a.password)
		a.token, a.expiry = e.fake.MintToken(uid, soakTokenTTL), time.Now().Add(soakTokenTTL).Truncate(time.Second)
		out[i] = a
	}
	return out
}

// seedAccounts stores accounts (e-mail, password and token, encrypted) in
// a relay's data directory before it starts, as "accounts add" would.
func seedAccounts(ctx context.Context, dataDir string, accounts []soakAccount) error {
	cfg := config.Default()
	cfg.DataDir = dataDir
	st, err := app.OpenStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	var errs []error
	for i, a := range accounts {
		errs = append(errs, st.CreateAccount(ctx, &store.Account{
			Name: "soak-" + strconv.Itoa(i+1), Email: a.email, Password: a.password,
			Token: a.token, TokenExpiry: a.expiry, State: store.StateActive,
		}))
	}
	return errors.Join(append(errs, st.Close())...)
}

// soakRelayEnv configures a relay child of the soak: its accounts come
// from the store; load limits and pacing are off (faults, not anti-ban
// pacing, are measured); first_byte_timeout is short so a first-byte
// stall costs seconds. Retries use the relay's defaults.
func soakRelayEnv(upstream, key, dataDir, logLevel string) []string {
	return []string{
		"QWENRELAY_UPSTREAM_URL=" + upstream,
		"QWENRELAY_API_KEY=" + key,
		"QWENRELAY_DATA_DIR=" + dataDir,
		"QWENRELAY_MAX_IN_FLIGHT=100000",
		"QWENRELAY_ACCOUNT_MAX_CONCURRENT=100000",
		"QWENRELAY_ACCOUNT_MIN_INTERVAL=0s",
		"QWENRELAY_FIRST_BYTE_TIMEOUT=" + faultFirstByteTimeout.String(),
		"QWENRELAY_LOG_LEVEL=" + logLevel,
	}
}

// startSoakRelay starts a relay child in dir with the given accounts.
func startSoakRelay(ctx context.Context, bin, dir, upstream, key, logLevel string, accounts []soakAccount) (*child, error) {
	dataDir := filepath.Join(dir, "data")
	if err := seedAccounts(ctx, dataDir, accounts); err != nil {
		return nil, fmt.Errorf("storing the accounts: %w", err)
	}
	return startChild(ctx, childSpec{
		name: "relay", bin: bin, dir: dir,
		args: []string{"serve", "--listen", "127.0.0.1:0"},
		env:  soakRelayEnv(upstream, key, dataDir, logLevel),
	})
}
