package server

import (
	"context"
	"net/http"

	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/catalog"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// fetcher returns the function that lists upstream models with a credential
// fit for this request.
func (s *Server) fetcher(r *http.Request) catalog.FetchFunc {
	client := info(r.Context()).clientCred
	return func(ctx context.Context) ([]upstream.Model, error) {
		if client != nil {
			return s.relay.Provider().ListModels(ctx, *client)
		}
		lease, err := s.picker.Acquire(ctx, relay.Want{})
		if err != nil {
			return nil, err
		}
		models, err := s.relay.Provider().ListModels(ctx, lease.Credential())
		lease.Release(err)
		if err == nil {
			s.metrics.ModelsRefresh("ok")
		} else {
			s.metrics.ModelsRefresh("error")
		}
		return models, err
	}
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	list, err := s.catalog.List(r.Context(), s.fetcher(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := openai.ModelList{Object: "list", Data: make([]openai.Model, 0, len(list))}
	for _, m := range list {
		out.Data = append(out.Data, publicModel(m))
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.catalog.List(r.Context(), s.fetcher(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.catalog.Resolve(r.Context(), s.fetcher(r), id)
	if err != nil {
		s.writeError(w, r, modelProblem(err))
		return
	}
	writeJSON(w, r, http.StatusOK, publicModel(m))
}

func publicModel(m catalog.Model) openai.Model {
	owner := m.Upstream.OwnedBy
	if owner == "" {
		owner = "qwen"
	}
	return openai.Model{ID: m.Public, Object: "model", Created: m.Upstream.Created, OwnedBy: owner}
}
