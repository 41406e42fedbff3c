package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

func TestReloginOnExpiredToken(t *testing.T) {
	e := start(t, setup{noEnv: true})
	e.emu.AddUser("amy@example.com", "correct horse")
	var acc accountView
	if code := e.adminDo(http.MethodPost, "/admin/accounts", map[string]any{
		"name": "amy", "email": "amy@example.com", "password": "correct horse",
	}, &acc); code/100 != 2 || acc.State != "active" {
		t.Fatalf("add by login: %d %+v", code, acc)
	}
	if _, err := e.client.Chat.Completions.New(context.Background(), params(model, directive("tokens=4"))); err != nil {
		t.Fatal(err)
	}
	// The upstream's clock moves past the token's expiry: its next answer is
	// 401, and the pool signs in again once, however many requests hit it.
	e.now.Advance(31 * 24 * time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.client.Chat.Completions.New(context.Background(), params(model, directive("tokens=4 seed=x")))
			if err == nil && c.Choices[0].Message.Content != qwenfake.AnswerText("x", 4) {
				err = errFmt("wrong content %q", c.Choices[0].Message.Content)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.emu.Stats().Paths["/api/v1/auths/signin"]; n != 2 {
		t.Fatalf("sign-ins = %d, want 2 (add + one re-login)", n)
	}
	if st := e.accounts()["amy"].State; st != "active" {
		t.Fatalf("state %s", st)
	}
}

func TestCaptchaQuarantinesAndFailsOver(t *testing.T) {
	e := start(t, setup{users: []string{"alice", "bob"}})
	e.emu.SetAccountFailure("alice", qwenfake.Failure{Mode: qwenfake.ModeCaptcha})
	for i := 0; i < 3; i++ {
		if _, err := e.client.Chat.Completions.New(context.Background(), params(model, directive("tokens=4"))); err != nil {
			t.Fatal(err)
		}
	}
	a := e.accounts()[app.EnvAccountName(e.tokens[0])]
	if a.State != "quarantined" || !strings.Contains(a.PunishURL, "punish") {
		t.Fatalf("alice: %+v", a)
	}
	if e.emu.Account("alice").Requests != 1 {
		t.Fatalf("a quarantined account was used again: %d", e.emu.Account("alice").Requests)
	}
}

func TestQuotaCoolsDownUntilReset(t *testing.T) {
	e := start(t, setup{})
	_, err := e.client.Chat.Completions.New(context.Background(), params(model, directive("fail=quota")))
	if ae := apiErr(t, err); ae.StatusCode != 429 {
		t.Fatalf("%d", ae.StatusCode)
	}
	a := e.accounts()[app.EnvAccountName(e.tokens[0])]
	if a.State != "cooling" || a.CoolUntil == nil || time.Until(*a.CoolUntil) < 3*time.Hour+50*time.Minute {
		t.Fatalf("want cooling ~4h (num=4): %+v", a)
	}
	// Every account cooling: 429 with the time to wait.
	resp := e.rawChat("hi")
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || ra < 3*3600 {
		t.Fatalf("all cooling: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestUnauthorizedWithoutPasswordIsInvalid(t *testing.T) {
	e := start(t, setup{})
	e.emu.SetAccountFailure("alice", qwenfake.Failure{Mode: qwenfake.ModeHTTP401})
	_, _ = e.client.Chat.Completions.New(context.Background(), params(model, "hi"))
	if st := e.accounts()[app.EnvAccountName(e.tokens[0])].State; st != "invalid" {
		t.Fatalf("state %s", st)
	}
	_, err := e.client.Chat.Completions.New(context.Background(), params(model, "hi"))
	if ae := apiErr(t, err); ae.StatusCode != 503 || !strings.Contains(ae.Message, "invalid") {
		t.Fatalf("%d %s", ae.StatusCode, ae.Message)
	}
}

func TestPoolCapsUnderLoad(t *testing.T) {
	e := start(t, setup{users: []string{"a", "b", "c"}, cfg: func(c *config.Config) {
		c.AccountMaxConcurrent = 2
		c.MaxInFlight = 1000
	}})
	var wg sync.WaitGroup
	failed := make(chan string, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			seed := "p" + strconv.Itoa(i)
			r := e.stream(context.Background(), params(model, directive("tokens=8 delay=1ms seed="+seed)))
			if r.err != nil || r.content != qwenfake.AnswerText(seed, 8) {
				failed <- seed + ": " + errString(r.err)
			}
		}(i)
	}
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Error(f)
	}
	for _, u := range []string{"a", "b", "c"} {
		if m := e.emu.Account(u).MaxInFlight; m > 2 || m == 0 {
			t.Errorf("account %s: max in flight %d, cap 2", u, m)
		}
	}
}

// createKey makes a client key through the admin API.
func (e *env) createKey(t *testing.T, spec map[string]any) (plain string, id int64) {
	t.Helper()
	var out struct {
		Key string `json:"key"`
		ID  int64  `json:"id"`
	}
	if code := e.adminDo(http.MethodPost, "/admin/keys", spec, &out); code/100 != 2 || !strings.HasPrefix(out.Key, "sk-qr-") {
		t.Fatalf("create key: %d %+v", code, out)
	}
	return out.Key, out.ID
}

func TestClientKeyLimits(t *testing.T) {
	e := start(t, setup{})
	ctx := context.Background()
	limitCode := func(err error, status int, code string) {
		t.Helper()
		ae := apiErr(t, err)
		if ae.StatusCode != status || ae.Code != code {
			t.Fatalf("got %d %s (%s), want %d %s", ae.StatusCode, ae.Code, ae.Message, status, code)
		}
	}
	rpmKey, rpmID := e.createKey(t, map[string]any{"name": "rpm", "rpm": 2})
	c := openaiClient(e, rpmKey)
	for i := 0; i < 2; i++ {
		if _, err := c.Chat.Completions.New(ctx, params(model, directive("tokens=2"))); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Chat.Completions.New(ctx, params(model, "hi"))
	limitCode(err, 429, "rate_limit_exceeded")
	if !strings.Contains(apiErr(t, err).Message, "rpm") {
		t.Fatalf("message does not name the limit: %s", apiErr(t, err).Message)
	}

	quotaKey, _ := e.createKey(t, map[string]any{"name": "quota", "daily_token_quota": 10})
	c = openaiClient(e, quotaKey)
	if _, err := c.Chat.Completions.New(ctx, params(model, directive("tokens=4"))); err != nil {
		t.Fatal(err)
	}
	_, err = c.Chat.Completions.New(ctx, params(model, "hi"))
	limitCode(err, 429, "rate_limit_exceeded")

	modelKey, _ := e.createKey(t, map[string]any{"name": "coder only", "allowed_models": []string{"qwen3-coder-plus"}})
	c = openaiClient(e, modelKey)
	_, err = c.Chat.Completions.New(ctx, params(model, "hi"))
	limitCode(err, 403, "model_not_allowed")
	if _, err := c.Chat.Completions.New(ctx, params("qwen3-coder-plus", directive("tokens=2"))); err != nil {
		t.Fatal(err)
	}

	concKey, _ := e.createKey(t, map[string]any{"name": "one at a time", "max_concurrent": 1})
	c = openaiClient(e, concKey)
	sctx, cancel := context.WithCancel(ctx)
	st := c.Chat.Completions.NewStreaming(sctx, params(model, directive("tokens=200 delay=20ms")))
	if !st.Next() {
		t.Fatal(st.Err())
	}
	_, err = c.Chat.Completions.New(ctx, params(model, "hi"))
	limitCode(err, 429, "rate_limit_exceeded")
	cancel()
	st.Close()

	if code := e.adminDo(http.MethodDelete, "/admin/keys/"+strconv.FormatInt(rpmID, 10), nil, nil); code/100 != 2 {
		t.Fatalf("revoke: %d", code)
	}
	_, err = newWith(e, rpmKey)(ctx, params(model, "hi"))
	limitCode(err, 401, "invalid_api_key")

	expKey, _ := e.createKey(t, map[string]any{"name": "short", "expires_at": time.Now().Add(300 * time.Millisecond).Format(time.RFC3339Nano)})
	time.Sleep(400 * time.Millisecond)
	_, err = newWith(e, expKey)(ctx, params(model, "hi"))
	limitCode(err, 401, "invalid_api_key")

	_, err = newWith(e, "sk-qr-unknown")(ctx, params(model, "hi"))
	limitCode(err, 401, "invalid_api_key")
}

func TestUsageRecordedAndKeptOnShutdown(t *testing.T) {
	e := start(t, setup{})
	key, keyID := e.createKey(t, map[string]any{"name": "metered"})
	c := openaiClient(e, key)
	const n = 25
	for i := 0; i < n; i++ {
		p := params(model, directive("tokens=4"))
		if i%2 == 0 {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			if r := e.stream(context.Background(), p); r.err != nil {
				t.Fatal(r.err)
			}
			continue
		}
		if _, err := c.Chat.Completions.New(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	// Graceful shutdown flushes every queued row.
	e.relay.Close()
	if err := e.closeApp(); err != nil {
		t.Fatal(err)
	}
	st, err := app.OpenStore(context.Background(), e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.QueryUsage(context.Background(), storeFilter(0))
	if err != nil || len(rows) != n {
		t.Fatalf("rows = %d (%v), want %d", len(rows), err, n)
	}
	metered := 0
	for _, r := range rows {
		if r.PromptTokens == 0 || r.CompletionTokens == 0 || r.AccountID == 0 || r.Status != 200 || r.Model != model {
			t.Fatalf("incomplete row %+v", r)
		}
		if r.KeyID == keyID {
			metered++
		}
	}
	if metered != n/2 {
		t.Fatalf("rows of the client key = %d, want %d", metered, n/2)
	}
	days, err := st.DailyTotals(context.Background(), storeFilter(keyID))
	if err != nil || len(days) != 1 || days[0].Requests != int64(n/2) {
		t.Fatalf("daily totals %+v %v", days, err)
	}
}

func errString(err error) string {
	if err == nil {
		return "corrupted answer"
	}
	return err.Error()
}

// newWith returns the chat completion call of a client using key.
func newWith(e *env, key string) func(context.Context, openai.ChatCompletionNewParams, ...option.RequestOption) (*openai.ChatCompletion, error) {
	c := openaiClient(e, key)
	return c.Chat.Completions.New
}

// Regression: a stream the client abandoned was recorded with 0 tokens and
// status 200, so a key could dodge its daily token quota by disconnecting.
func TestUsageOfAbandonedStream(t *testing.T) {
	e := start(t, setup{})
	ctx, cancel := context.WithCancel(context.Background())
	st := e.client.Chat.Completions.NewStreaming(ctx, params(model, directive("tokens=400 delay=5ms")))
	for i := 0; i < 20 && st.Next(); i++ {
	}
	cancel()
	st.Close()
	e.relay.Close()
	if err := e.closeApp(); err != nil {
		t.Fatal(err)
	}
	s, err := app.OpenStore(context.Background(), e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.QueryUsage(context.Background(), storeFilter(0))
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %v %v", rows, err)
	}
	if r := rows[0]; r.Status != 499 || r.ErrorKind != "client_gone" || r.PromptTokens == 0 || r.CompletionTokens < 10 {
		t.Fatalf("abandoned stream recorded as %+v", r)
	}
}
