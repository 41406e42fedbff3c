package responses

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// GetHandler serves GET /v1/responses/{id}: the stored Response object, or
// 404 in OpenAI's error shape when it is missing, expired or was never
// stored (store: false). The route must name the path value "id".
func GetHandler(st Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		rec, err := get(r.Context(), st, id)
		if err != nil {
			writeStoreError(w, r, id, err)
			return
		}
		writeJSON(w, http.StatusOK, rec.Body)
	}
}

// DeleteHandler serves DELETE /v1/responses/{id}:
// {"id":…,"object":"response","deleted":true}, or 404.
func DeleteHandler(st Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		var err error
		if st == nil || id == "" {
			err = store.ErrNotFound
		} else {
			err = st.DeleteResponse(r.Context(), id)
		}
		if err != nil {
			writeStoreError(w, r, id, err)
			return
		}
		body, _ := json.Marshal(Deleted{ID: id, Object: "response", Deleted: true})
		writeJSON(w, http.StatusOK, body)
	}
}

func get(ctx context.Context, st Store, id string) (*store.StoredResponse, error) {
	if st == nil || id == "" {
		return nil, store.ErrNotFound
	}
	return st.GetResponse(ctx, id)
}

func writeStoreError(w http.ResponseWriter, r *http.Request, id string, err error) {
	status, e := http.StatusNotFound, openai.NewError(openai.TypeInvalidRequest, "not_found", "",
		fmt.Sprintf("No response found with id '%s'.", id))
	if !errors.Is(err, store.ErrNotFound) {
		slog.Default().ErrorContext(r.Context(), "responses: store", "response_id", id, "err", err)
		status, e = http.StatusInternalServerError, openai.NewError(openai.TypeServer, "store_error", "",
			"the relay could not read its stored responses; see its log")
	}
	body, _ := json.Marshal(e)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may have gone; nothing to do
}
