package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// soakOptions runs the soak with the test binary as its relay (see
// fakeChildMain), small rounds of 1 and 2 accounts.
func soakOptions(t *testing.T) *options {
	t.Helper()
	o, err := parseFlags([]string{"--scenario", "faults", "-n", "60", "-c", "12", "--fault-accounts", "1,2",
		"--fault-seed", "fixed", "--relay-bin", os.Args[0], "--log-dir", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestRunFaultsRounds(t *testing.T) {
	tests := []struct {
		mode string
		pass bool
	}{
		{"soak-faithful", true}, // answers every request exactly
		{"soak", false},         // answers some faults with errors and empty or wrong texts
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			checkLeaks(t)
			t.Setenv(fakeChildEnv, tt.mode) // inherited by the relay children
			o := soakOptions(t)
			var stderr bytes.Buffer
			res := runFaults(context.Background(), o, o.resolve("faults"), &stderr)
			if !res.Available || len(res.Rounds) != 2 || res.Seed != "fixed" {
				t.Fatalf("result %+v; stderr %s", res, stderr.String())
			}
			for i, r := range res.Rounds {
				if r.Accounts != []int{1, 2}[i] || !r.Available || r.Started != 60 || r.NotStarted != 0 {
					t.Errorf("round %d: %+v", i, r)
				}
				if r.Before.FDs == 0 || r.GoroutinesBefore <= 0 || !r.Released {
					t.Errorf("round %d: leak probe before %+v (%d goroutines), released %t", i, r.Before, r.GoroutinesBefore, r.Released)
				}
				if soft := r.ByClass[string(classSoft)]; soft.Requests != 6 {
					t.Errorf("round %d: %d soft faults, want 6", i, soft.Requests)
				}
			}
			for _, n := range o.faultAccounts { // each relay got its own n accounts, with passwords
				if got := storedAccounts(t, filepath.Join(o.logDir, "faults", fmt.Sprintf("accounts-%d", n), "data")); got != n {
					t.Errorf("relay of round %d had %d accounts with a password", n, got)
				}
			}
			if res.Pass != tt.pass || res.Rounds[0].Pass != tt.pass {
				t.Errorf("pass = %t, want %t: %+v", res.Pass, tt.pass, res.Rounds[0])
			}
			if got := res.wrongAnswers(); (got == 0) != tt.pass {
				t.Errorf("wrong answers = %d", got)
			}
			var out bytes.Buffer
			writeFaults(&out, res)
			if verdict := map[bool]string{true: ": PASS", false: ": FAIL"}[tt.pass]; !strings.Contains(out.String(), verdict) {
				t.Errorf("report lacks %q:\n%s", verdict, out.String())
			}
		})
	}
}

// storedAccounts counts the accounts with an e-mail and a password in a
// relay's data directory.
func storedAccounts(t *testing.T, dataDir string) int {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dataDir
	st, err := app.OpenStore(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	list, err := st.ListAccounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range list {
		if a.Email != "" && a.Password != "" && a.Token != "" {
			n++
		}
	}
	return n
}

func TestSoakRoundDetectsLeaks(t *testing.T) {
	checkLeaks(t)
	t.Setenv(fakeChildEnv, "soak-leaky")
	emu, err := startSoakEmulator("sec", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.close()
	o := soakOptions(t)
	sk := &soak{o: o, s: scenario{n: 40, c: 4, tokens: 5, timeout: time.Minute}, bin: os.Args[0], dir: t.TempDir(),
		emu: emu, accounts: emu.addAccounts(1), answer: expectedAnswer, stderr: io.Discard,
		slack: slack{fds: 8, goroutines: 16, wait: 500 * time.Millisecond}}
	r := sk.round(context.Background(), 1, "leak")
	if !r.Available || r.Exact != 40 || r.Released || r.Pass {
		t.Errorf("round %+v: want every answer exact, but a leak found", r)
	}
	if r.GoroutinesAfter < r.GoroutinesBefore+40 {
		t.Errorf("goroutines %d → %d, want +40", r.GoroutinesBefore, r.GoroutinesAfter)
	}
}

func TestRunFaultsNotMeasured(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"relay not selected", []string{"--targets", "direct"}, "relay target not selected"},
		{"given relay", []string{"--relay-url", "http://127.0.0.1:1"}, "--relay-url is not used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(append([]string{"--scenario", "faults"}, tt.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			res := runFaults(context.Background(), o, o.resolve("faults"), io.Discard)
			if res.Available || !strings.Contains(res.Reason, tt.want) || res.Pass {
				t.Errorf("result %+v, want unavailable because %q", res, tt.want)
			}
			var out bytes.Buffer
			writeFaults(&out, res)
			if !strings.Contains(out.String(), "not measured: "+res.Reason) {
				t.Errorf("report:\n%s", out.String())
			}
		})
	}
}

func TestSoakEmulatorAccounts(t *testing.T) {
	checkLeaks(t)
	emu, err := startSoakEmulator("sec", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.close()
	accounts := emu.addAccounts(2)
	tr := transport(t, 2)
	for _, a := range accounts {
		// The relay signs in with the SHA-256 hex of the password.
		sum := sha256.Sum256([]byte(a.password))
		body, _ := json.Marshal(map[string]string{"email": a.email, "password": hex.EncodeToString(sum[:])})
		resp, err := post(context.Background(), &http.Client{Transport: tr}, emu.url+"/api/v1/auths/signin", "", body, "application/json")
		if err != nil {
			t.Fatalf("sign-in of %s: %v", a.email, err)
		}
		finish(resp.Body)
		c := newDirectClient(emu.url, []string{a.token}, tr)
		if text, err := c.stream(context.Background(), prompt("acc", 3, 0), nil); err != nil || text != expectedAnswer("acc", 3) {
			t.Errorf("minted token: %q, %v", text, err)
		}
		if time.Until(a.expiry) < soakTokenTTL-time.Hour {
			t.Errorf("expiry %v is too close", a.expiry)
		}
	}
	if accounts[0].password == accounts[1].password {
		t.Error("two accounts share a password")
	}
	emu.closeIdle() // must leave the server serving
	c := newDirectClient(emu.url, []string{accounts[0].token}, newTransport(1))
	if _, err := c.stream(context.Background(), prompt("after", 2, 0), nil); err != nil {
		t.Errorf("after closeIdle: %v", err)
	}
}

func TestSeedAccounts(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	in := []soakAccount{
		{email: "a@x.invalid", password: "pw-secret-a", token: "tok.en.a", expiry: time.Unix(2000000000, 0)},
		{email: "b@x.invalid", password: "pw-secret-b", token: "tok.en.b", expiry: time.Unix(2000000000, 0)},
	}
	if err := seedAccounts(context.Background(), dataDir, in); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dataDir
	st, err := app.OpenStore(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.ListAccounts(context.Background())
	_ = st.Close()
	if err != nil || len(list) != 2 {
		t.Fatalf("accounts %v, %v", list, err)
	}
	for i, a := range list {
		if a.Email != in[i].email || a.Password != in[i].password || a.Token != in[i].token ||
			a.State != store.StateActive || !a.TokenExpiry.Equal(in[i].expiry) {
			t.Errorf("account %d = %+v", i, a)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dataDir, "*")) // the database, its WAL, the master key
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("pw-secret-a")) || bytes.Contains(b, []byte("tok.en.a")) {
			t.Errorf("%s holds a password or token in the clear", f)
		}
	}
	if err := seedAccounts(context.Background(), dataDir, in[:1]); err == nil {
		t.Error("storing an account twice succeeded")
	}
}
