package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// keyView is a client key as listed: the display prefix only, never the
// hash or the plain key.
type keyView struct {
	ID              int64      `json:"id"`
	Object          string     `json:"object"`
	Name            string     `json:"name"`
	Prefix          string     `json:"prefix"`
	Status          string     `json:"status"` // active | revoked | expired
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       *time.Time `json:"expires_at"`
	RevokedAt       *time.Time `json:"revoked_at"`
	AllowedModels   []string   `json:"allowed_models"`
	RPM             int        `json:"rpm"`
	MaxConcurrent   int        `json:"max_concurrent"`
	DailyTokenQuota int64      `json:"daily_token_quota"`
}

// createdKey is the one response that carries the plain key.
type createdKey struct {
	Key string `json:"key"`
	keyView
}

func (h *handler) view(k *store.Key) keyView {
	v := keyView{
		ID: k.ID, Object: "api_key", Name: k.Name, Prefix: k.Prefix, Status: "active", CreatedAt: k.CreatedAt,
		ExpiresAt: timePtr(k.ExpiresAt), RevokedAt: timePtr(k.RevokedAt), AllowedModels: nonNil(k.AllowedModels),
		RPM: k.RPM, MaxConcurrent: k.MaxConcurrent, DailyTokenQuota: k.DailyTokenQuota,
	}
	switch {
	case !k.RevokedAt.IsZero():
		v.Status = "revoked"
	case !k.ExpiresAt.IsZero() && !h.now().Before(k.ExpiresAt):
		v.Status = "expired"
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// optTime is a JSON time that tells "absent" from null: null or "" clear
// the value, an RFC 3339 string sets it.
type optTime struct {
	Set   bool
	Value time.Time
}

func (o *optTime) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(b, []byte("null")) || bytes.Equal(b, []byte(`""`)) {
		o.Value = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return badRequest("expires_at", "expires_at must be an RFC 3339 time, null or \"\"")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return badRequest("expires_at", "expires_at must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
	}
	o.Value = t
	return nil
}

type createKeyRequest struct {
	Name            string   `json:"name"`
	ExpiresAt       optTime  `json:"expires_at"`
	AllowedModels   []string `json:"allowed_models"`
	RPM             int      `json:"rpm"`
	MaxConcurrent   int      `json:"max_concurrent"`
	DailyTokenQuota int64    `json:"daily_token_quota"`
}

// updateKeyRequest is PATCH /admin/keys/{id}: absent fields stay as they
// are; allowed_models [] allows every model; expires_at null never expires.
type updateKeyRequest struct {
	Name            *string   `json:"name"`
	ExpiresAt       optTime   `json:"expires_at"`
	AllowedModels   *[]string `json:"allowed_models"`
	RPM             *int      `json:"rpm"`
	MaxConcurrent   *int      `json:"max_concurrent"`
	DailyTokenQuota *int64    `json:"daily_token_quota"`
}

func (h *handler) listKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := h.keys.List(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]keyView, 0, len(ks))
	for _, k := range ks {
		out = append(out, h.view(k))
	}
	writeJSON(w, http.StatusOK, listOf(out))
}

func (h *handler) createKey(w http.ResponseWriter, r *http.Request) {
	var q createKeyRequest
	if err := decode(w, r, &q); err != nil {
		h.writeError(w, r, err)
		return
	}
	plain, k, err := h.keys.Create(r.Context(), keys.CreateParams{
		Name: q.Name, ExpiresAt: q.ExpiresAt.Value, AllowedModels: q.AllowedModels,
		RPM: q.RPM, MaxConcurrent: q.MaxConcurrent, DailyTokenQuota: q.DailyTokenQuota,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("admin: key created", "key_id", k.ID, "prefix", k.Prefix, "name", k.Name)
	writeJSON(w, http.StatusCreated, createdKey{Key: plain, keyView: h.view(k)})
}

func (h *handler) updateKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var q updateKeyRequest
	if err := decode(w, r, &q); err != nil {
		h.writeError(w, r, err)
		return
	}
	p := keys.UpdateParams{Name: q.Name, AllowedModels: q.AllowedModels, RPM: q.RPM,
		MaxConcurrent: q.MaxConcurrent, DailyTokenQuota: q.DailyTokenQuota}
	if q.ExpiresAt.Set {
		p.ExpiresAt = &q.ExpiresAt.Value
	}
	k, err := h.keys.Update(r.Context(), id, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("admin: key updated", "key_id", k.ID, "prefix", k.Prefix)
	writeJSON(w, http.StatusOK, h.view(k))
}

func (h *handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = h.keys.Revoke(r.Context(), id)
	}
	var k *store.Key
	if err == nil {
		k, err = h.keys.Get(r.Context(), id)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("admin: key revoked", "key_id", k.ID, "prefix", k.Prefix)
	writeJSON(w, http.StatusOK, h.view(k))
}
