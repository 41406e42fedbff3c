package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// addAccountRequest is POST /admin/accounts: either token, or email and
// password. no_check stores the account without probing it upstream; an
// account the probe finds behind a captcha is stored quarantined (201,
// state "quarantined", punish_url set).
type addAccountRequest struct {
	Name          string `json:"name"`
	Token         string `json:"token"`
	Email         string `json:"email"`
	Password      string `json:"password"`
	Proxy         string `json:"proxy"`
	MaxConcurrent int    `json:"max_concurrent"`
	MinInterval   string `json:"min_interval"` // Go duration, "1.5s"
	NoCheck       bool   `json:"no_check"`
}

// validate checks the request; messages never contain the secret values.
func (q *addAccountRequest) validate() (AddAccount, error) {
	in := AddAccount{
		Name: strings.TrimSpace(q.Name), Token: strings.TrimSpace(q.Token), Email: strings.TrimSpace(q.Email),
		Password: q.Password, Proxy: strings.TrimSpace(q.Proxy), MaxConcurrent: q.MaxConcurrent, NoCheck: q.NoCheck,
	}
	switch {
	case in.Token == "" && in.Email == "" && in.Password == "":
		return in, badRequest("token", "send either token, or email and password")
	case in.Token == "" && in.Email == "":
		return in, badRequest("email", "email is required with password")
	case in.Token == "" && in.Password == "":
		return in, badRequest("password", "password is required with email")
	case in.Email != "" && !strings.Contains(in.Email, "@"):
		return in, badRequest("email", "email is not an email address")
	case len(in.Name) > 200:
		return in, badRequest("name", "name must be at most 200 characters")
	case in.MaxConcurrent < 0:
		return in, badRequest("max_concurrent", "max_concurrent must be 0 (pool default) or positive")
	}
	if in.NoCheck && in.Token != "" {
		// Nothing upstream will judge the token: at least its shape.
		if err := config.CheckQwenToken(in.Token); err != nil {
			return in, badRequest("token", "token %v (with no_check the token is stored as given: send the JWT from chat.qwen.ai)", err)
		}
	}
	if q.MinInterval != "" {
		d, err := time.ParseDuration(q.MinInterval)
		if err != nil || d < 0 {
			return in, badRequest("min_interval", "min_interval must be a non-negative duration such as \"2s\"")
		}
		in.MinInterval = d
	}
	if in.Proxy != "" && !validProxy(in.Proxy) {
		return in, badRequest("proxy", "proxy must be a URL such as http://host:port or socks5://user:pass@host:port")
	}
	return in, nil
}

// updateAccountRequest is PATCH /admin/accounts/{id}: the fields given
// change, the others stay. It is an operator write (compare-and-swap on
// the stored record): the relay's own state saves never undo it.
type updateAccountRequest struct {
	Name          *string `json:"name"`
	Token         *string `json:"token"`
	Proxy         *string `json:"proxy"` // "" = none
	MaxConcurrent *int    `json:"max_concurrent"`
	MinInterval   *string `json:"min_interval"` // Go duration, "1.5s"
}

// validate checks the request; messages never contain the secret values.
func (q *updateAccountRequest) validate() (UpdateAccount, error) {
	in := UpdateAccount{MaxConcurrent: q.MaxConcurrent}
	if q.Name == nil && q.Token == nil && q.Proxy == nil && q.MaxConcurrent == nil && q.MinInterval == nil {
		return in, badRequest("", "send at least one of name, token, proxy, max_concurrent, min_interval")
	}
	if q.Name != nil {
		n := strings.TrimSpace(*q.Name)
		if n == "" || len(n) > 200 {
			return in, badRequest("name", "name must be 1 to 200 characters")
		}
		in.Name = &n
	}
	if q.Token != nil {
		tok := strings.TrimSpace(*q.Token)
		if err := config.CheckQwenToken(tok); err != nil {
			return in, badRequest("token", "token %v: send the JWT from chat.qwen.ai", err)
		}
		in.Token = &tok
	}
	if q.Proxy != nil {
		p := strings.TrimSpace(*q.Proxy)
		if p != "" && !validProxy(p) {
			return in, badRequest("proxy", "proxy must be a URL such as http://host:port or socks5://user:pass@host:port, or \"\" for none")
		}
		in.Proxy = &p
	}
	if q.MaxConcurrent != nil && *q.MaxConcurrent < 0 {
		return in, badRequest("max_concurrent", "max_concurrent must be 0 (pool default) or positive")
	}
	if q.MinInterval != nil {
		d, err := time.ParseDuration(*q.MinInterval)
		if err != nil || d < 0 {
			return in, badRequest("min_interval", "min_interval must be a non-negative duration such as \"2s\"")
		}
		in.MinInterval = &d
	}
	return in, nil
}

func validProxy(p string) bool {
	u, err := url.Parse(p)
	return err == nil && u.Host != "" && slices.Contains([]string{"http", "https", "socks5", "socks5h"}, u.Scheme)
}

func (h *handler) updateAccount(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var q updateAccountRequest
	if err == nil {
		err = decode(w, r, &q)
	}
	var in UpdateAccount
	if err == nil {
		in, err = q.validate()
	}
	if err == nil {
		err = h.accounts.Update(r.Context(), id, in)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("admin: account updated", "account_id", id, "token", in.Token != nil, "proxy", in.Proxy != nil,
		"name", in.Name != nil, "limits", in.MaxConcurrent != nil || in.MinInterval != nil)
	v, err := h.findAccount(r, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *handler) listAccounts(w http.ResponseWriter, r *http.Request) {
	list, err := h.accounts.List(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listOf(nonNil(list)))
}

func (h *handler) addAccount(w http.ResponseWriter, r *http.Request) {
	var q addAccountRequest
	if err := decode(w, r, &q); err != nil {
		h.writeError(w, r, err)
		return
	}
	in, err := q.validate()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	v, err := h.accounts.Add(r.Context(), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("admin: account added", "account_id", v.ID, "name", v.Name, "by_password", in.Token == "",
		"checked", !in.NoCheck, "state", v.State)
	writeJSON(w, http.StatusCreated, v)
}

func (h *handler) enableAccount(w http.ResponseWriter, r *http.Request)  { h.setDisabled(w, r, false) }
func (h *handler) disableAccount(w http.ResponseWriter, r *http.Request) { h.setDisabled(w, r, true) }

func (h *handler) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	id, err := pathID(r)
	if err == nil {
		err = h.accounts.SetDisabled(r.Context(), id, disabled)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("admin: account switched", "account_id", id, "disabled", disabled)
	v, err := h.findAccount(r, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *handler) findAccount(r *http.Request, id int64) (AccountView, error) {
	list, err := h.accounts.List(r.Context())
	if err != nil {
		return AccountView{}, err
	}
	for _, v := range list {
		if v.ID == id {
			return v, nil
		}
	}
	return AccountView{}, store.ErrNotFound
}

func (h *handler) testAccount(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var v AccountView
	if err == nil {
		v, err = h.accounts.Test(r.Context(), id)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *handler) deleteAccount(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = h.accounts.Delete(r.Context(), id)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("admin: account deleted", "account_id", id)
	writeJSON(w, http.StatusOK, deleted{ID: id, Object: "account", Deleted: true})
}

type deleted struct {
	ID      int64  `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

type list[T any] struct {
	Object string `json:"object"`
	Data   []T    `json:"data"`
}

func listOf[T any](data []T) list[T] { return list[T]{Object: "list", Data: data} }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// statusResponse is GET /admin/status: the pool at a glance.
type statusResponse struct {
	Accounts int            `json:"accounts"`
	States   map[string]int `json:"states"`
	InFlight int            `json:"in_flight"`
	Time     time.Time      `json:"time"`
	Data     []AccountView  `json:"data"`
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	accts, err := h.accounts.List(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	s := statusResponse{Accounts: len(accts), States: map[string]int{}, Time: h.now().UTC(), Data: nonNil(accts)}
	for _, st := range []store.AccountState{store.StateActive, store.StateCooling, store.StateQuarantined, store.StateInvalid, store.StateDisabled} {
		s.States[string(st)] = 0
	}
	for _, a := range accts {
		s.States[a.State]++
		s.InFlight += a.InFlight
	}
	writeJSON(w, http.StatusOK, s)
}
