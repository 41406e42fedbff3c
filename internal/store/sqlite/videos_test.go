package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// seedV4 writes with the v4 schema: a stored response survives and the
// videos table starts empty and usable.
func seedV4(t *testing.T, raw *sql.DB, _ *DB) func(*testing.T, *DB) {
	mustExec(t, raw, `INSERT INTO responses (id, created_at, conversation, body) VALUES ('resp_v4', 1, x'', '{}')`)
	return func(t *testing.T, db *DB) {
		ctx := context.Background()
		if r, err := db.GetResponse(ctx, "resp_v4"); err != nil || string(r.Body) != "{}" {
			t.Fatalf("response after migration: %+v, %v", r, err)
		}
		if _, err := db.GetVideo(ctx, "video_x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("videos table after migration: %v", err)
		}
		if err := db.PutVideo(ctx, &store.VideoJob{ID: "video_x", Status: store.VideoQueued}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVideos(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	t0 := time.UnixMilli(1800000000000).UTC()
	jobs := []*store.VideoJob{
		{ID: "video_b", Model: "m", Prompt: "p2", Status: store.VideoInProgress, AccountID: 3, TaskID: "t2",
			Progress: 40, CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(2 * time.Second)},
		{ID: "video_a", Model: "m", Prompt: "p1", Seconds: "4", Size: "720x1280", Status: store.VideoQueued, CreatedAt: t0},
		{ID: "video_c", Status: store.VideoCompleted, URL: "http://x/y.mp4", CreatedAt: t0, DoneAt: t0},
		{ID: "video_d", Status: store.VideoFailed, ErrCode: "upstream_failed", ErrMsg: "no", CreatedAt: t0, DoneAt: t0},
	}
	for _, j := range jobs {
		if err := db.PutVideo(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		id   string
		want *store.VideoJob
	}{
		{"in progress", "video_b", jobs[0]},
		{"queued with size", "video_a", jobs[1]},
		{"completed", "video_c", jobs[2]},
		{"failed", "video_d", jobs[3]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.GetVideo(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if *got != *tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		if _, err := db.GetVideo(ctx, "video_zz"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("empty id", func(t *testing.T) {
		if err := db.PutVideo(ctx, &store.VideoJob{}); err == nil {
			t.Fatal("empty id accepted")
		}
	})
	t.Run("unfinished oldest first", func(t *testing.T) {
		l, err := db.UnfinishedVideos(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 2 || l[0].ID != "video_a" || l[1].ID != "video_b" {
			t.Fatalf("unfinished = %+v", l)
		}
	})
	t.Run("replace", func(t *testing.T) {
		j := *jobs[1]
		j.Status, j.TaskID = store.VideoInProgress, "t9"
		if err := db.PutVideo(ctx, &j); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.GetVideo(ctx, "video_a"); got.TaskID != "t9" || got.Status != store.VideoInProgress {
			t.Fatalf("after replace: %+v", got)
		}
	})
}
