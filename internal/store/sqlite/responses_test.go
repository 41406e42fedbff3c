package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

func sampleResponse(id string, created time.Time, ttl time.Duration) *store.StoredResponse {
	r := &store.StoredResponse{ID: id, CreatedAt: created, Model: "qwen3-max",
		Conversation: []byte(`[{"role":"user","text":"hi"}]`), Body: []byte(`{"id":"` + id + `"}`)}
	if ttl > 0 {
		r.ExpiresAt = created.Add(ttl)
	}
	return r
}

func TestResponsesPutGetDelete(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	now := time.UnixMilli(1_800_000_000_000).UTC()
	db.now = func() time.Time { return now }

	if err := db.PutResponse(ctx, sampleResponse("resp_a", now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutResponse(ctx, sampleResponse("resp_forever", now, 0)); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetResponse(ctx, "resp_a")
	if err != nil {
		t.Fatal(err)
	}
	want := sampleResponse("resp_a", now, time.Hour)
	if got.ID != want.ID || !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		got.Model != want.Model || !bytes.Equal(got.Conversation, want.Conversation) || !bytes.Equal(got.Body, want.Body) {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	// Replacing keeps one record with the new content.
	repl := sampleResponse("resp_a", now, time.Hour)
	repl.Body = []byte(`{"replaced":true}`)
	if err := db.PutResponse(ctx, repl); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetResponse(ctx, "resp_a"); err != nil || string(got.Body) != `{"replaced":true}` {
		t.Fatalf("after replace: %+v, %v", got, err)
	}

	for _, tc := range []struct {
		name string
		id   string
		want error
	}{
		{"delete live", "resp_a", nil},
		{"delete again", "resp_a", store.ErrNotFound},
		{"delete missing", "resp_nope", store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := db.DeleteResponse(ctx, tc.id); !errors.Is(err, tc.want) {
				t.Fatalf("DeleteResponse(%s) = %v, want %v", tc.id, err, tc.want)
			}
		})
	}
	if _, err := db.GetResponse(ctx, "resp_a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if err := db.PutResponse(ctx, &store.StoredResponse{}); err == nil {
		t.Fatal("empty id accepted")
	}
}

func TestResponsesRetention(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	start := time.UnixMilli(1_800_000_000_000).UTC()
	now := start
	db.now = func() time.Time { return now }
	for i := range 5 {
		// resp_0 … resp_4 expire after 1 … 5 hours.
		r := sampleResponse(fmt.Sprintf("resp_%d", i), start, time.Duration(i+1)*time.Hour)
		if err := db.PutResponse(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutResponse(ctx, sampleResponse("resp_forever", start, 0)); err != nil {
		t.Fatal(err)
	}

	now = start.Add(2 * time.Hour) // resp_0 and resp_1 have expired
	for _, tc := range []struct {
		id   string
		live bool
	}{{"resp_0", false}, {"resp_1", false}, {"resp_2", true}, {"resp_4", true}, {"resp_forever", true}} {
		t.Run(tc.id, func(t *testing.T) {
			_, err := db.GetResponse(ctx, tc.id)
			if tc.live && err != nil {
				t.Fatalf("live record: %v", err)
			}
			if !tc.live && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("expired record: err = %v, want not found", err)
			}
		})
	}
	if err := db.DeleteResponse(ctx, "resp_0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete expired: %v, want not found", err)
	}
	n, err := db.DeleteExpiredResponses(ctx, now)
	if err != nil || n != 1 { // resp_1 (resp_0 went with DeleteResponse)
		t.Fatalf("sweep: %d, %v; want 1", n, err)
	}
	n, err = db.DeleteExpiredResponses(ctx, start.Add(100*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("second sweep: %d, %v; want 3", n, err)
	}
	var left int
	if err := db.r.QueryRow(`SELECT count(*) FROM responses`).Scan(&left); err != nil || left != 1 {
		t.Fatalf("left %d rows, %v; want the one that never expires", left, err)
	}
}
