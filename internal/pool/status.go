package pool

import (
	"context"
	"slices"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// AccountStatus is what the admin API shows of an account: no secrets,
// only a masked token prefix.
type AccountStatus struct {
	ID                  int64              `json:"id"`
	Name                string             `json:"name"`
	Email               string             `json:"email,omitempty"`
	TokenPrefix         string             `json:"token_prefix"`
	TokenExpiry         time.Time          `json:"token_expiry,omitzero"`
	HasPassword         bool               `json:"has_password"`
	HasProxy            bool               `json:"has_proxy"`
	State               store.AccountState `json:"state"`
	Reason              string             `json:"reason,omitempty"`
	Since               time.Time          `json:"since,omitzero"`
	CoolUntil           time.Time          `json:"cool_until,omitzero"`
	PunishURL           string             `json:"punish_url,omitempty"`
	InFlight            int                `json:"in_flight"`
	MaxConcurrent       int                `json:"max_concurrent"`
	Requests            int64              `json:"requests"` // leases handed out since start
	Failures            int64              `json:"failures"` // outcomes held against the account since start
	ConsecutiveFailures int                `json:"consecutive_failures"`
	LastUsed            time.Time          `json:"last_used,omitzero"`
	Models              []string           `json:"models"` // empty = unknown (all)
	CredentialID        string             `json:"credential_id"`
}

// Status lists every account, ordered by ID.
func (p *Pool) Status(ctx context.Context) []AccountStatus {
	p.mu.Lock()
	out := make([]AccountStatus, 0, len(p.order))
	for _, e := range p.order {
		out = append(out, p.statusLocked(e))
	}
	p.mu.Unlock()
	for i := range out {
		if n, err := p.live.InFlight(ctx, out[i].ID); err == nil {
			out[i].InFlight = n
		}
	}
	return out
}

// statusLocked describes e, except InFlight, which is read from the live
// state outside the lock.
func (p *Pool) statusLocked(e *entry) AccountStatus {
	a := &e.acct
	st := AccountStatus{
		ID: a.ID, Name: a.Name, Email: a.Email, TokenPrefix: secrets.Mask(a.Token), TokenExpiry: a.TokenExpiry,
		HasPassword: a.Password != "", HasProxy: a.Proxy != "",
		State: a.State, Reason: a.StateReason, Since: a.StateSince, PunishURL: a.PunishURL,
		MaxConcurrent: orDefault(a.MaxConcurrent, p.opts.MaxConcurrent),
		Requests:      e.requests, Failures: e.failures, ConsecutiveFailures: e.consec,
		LastUsed: a.LastUsedAt, Models: slices.Clone(a.Models), CredentialID: e.credID(),
	}
	if a.State == store.StateCooling {
		st.CoolUntil = a.CoolUntil
	}
	if st.Models == nil {
		st.Models = []string{}
	}
	return st
}
