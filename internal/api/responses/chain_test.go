package responses

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// clock is an injected time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// turn decodes body, "answers" it with ans and finishes it as the server
// does; it returns the request and the answer's id.
func turn(t *testing.T, c *Codec, body string, ans *api.Answer) (*api.Request, string) {
	t.Helper()
	req, err := c.Decode(context.Background(), []byte(body), http.Header{})
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	meta := api.Meta{ID: c.NewID(), Created: c.now().Unix(), Model: req.Model}
	c.Finished(req, meta, ans)
	return req, meta.ID
}

func TestPreviousResponseChain(t *testing.T) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	st := NewMemoryStore(clk.now)
	c := New(st, time.Hour, WithClock(clk.now))
	tools := `"tools":[{"type":"function","name":"f"},{"type":"custom","name":"apply_patch"}]`

	_, id1 := turn(t, c, `{"model":"m","instructions":"first rules","input":"hello",`+tools+`}`,
		&api.Answer{Text: "hi", Reasoning: "greet", End: api.End{FinishReason: api.FinishStop}})
	_, id2 := turn(t, c, `{"model":"m","previous_response_id":"`+id1+`","input":"patch it",`+tools+`}`,
		&api.Answer{Calls: []toolcall.Call{{ID: "call_p", Name: "apply_patch", Custom: true, Input: "*** Begin Patch\n*** End Patch\n"}},
			End: api.End{FinishReason: api.FinishToolCalls}})
	req3, _ := turn(t, c, `{"model":"m","instructions":"new rules","previous_response_id":"`+id2+`","input":[
		{"type":"custom_tool_call_output","call_id":"call_p","output":"Done"}],`+tools+`}`,
		&api.Answer{Text: "all done", End: api.End{FinishReason: api.FinishStop}})

	// The instructions of earlier responses are not carried over.
	assertMessages(t, req3.Messages, []api.Message{
		{Role: "system", Text: "new rules"},
		{Role: "user", Text: "hello"},
		{Role: "assistant", Text: "hi", Reasoning: "greet"},
		{Role: "user", Text: "patch it"},
		{Role: "assistant", ToolCalls: []toolcall.Call{{ID: "call_p", Name: "apply_patch", Custom: true, Input: "*** Begin Patch\n*** End Patch\n"}}},
		{Role: "tool", Text: "Done", ToolCallID: "call_p", ToolName: "apply_patch"},
	})
	if st.Len() != 3 {
		t.Fatalf("%d stored, want 3", st.Len())
	}

	// The stored body is the Response object, with previous_response_id.
	rec, err := st.GetResponse(context.Background(), id2)
	if err != nil {
		t.Fatal(err)
	}
	var r Response
	if err := json.Unmarshal(rec.Body, &r); err != nil || r.ID != id2 || r.PreviousResponseID == nil || *r.PreviousResponseID != id1 ||
		len(r.Output) != 1 || r.Status != "completed" {
		t.Fatalf("stored body %s (%v)", rec.Body, err)
	}

	// An item of a stored answer can be referred to.
	refBody := `{"model":"m","input":[{"type":"item_reference","id":"` + itemID("msg", id1, 0) + `"},
		{"type":"item_reference","id":"` + itemID("ctc", id2, 1) + `"},{"type":"custom_tool_call_output","call_id":"call_p","output":"ok"}]}`
	reqRef, err := c.Decode(context.Background(), []byte(refBody), http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	assertMessages(t, reqRef.Messages, []api.Message{{Role: "assistant", Text: "hi", ToolCalls: []toolcall.Call{{ID: "call_p", Name: "apply_patch", Custom: true, Input: "*** Begin Patch\n*** End Patch\n"}}},
		{Role: "tool", Text: "ok", ToolCallID: "call_p", ToolName: "apply_patch"}})

	// After the retention the chain is gone: 404 on previous_response_id.
	clk.t = clk.t.Add(2 * time.Hour)
	_, err = c.Decode(context.Background(), []byte(`{"model":"m","previous_response_id":"`+id2+`","input":"more"}`), http.Header{})
	var p *api.Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotFound || p.Param != "previous_response_id" {
		t.Fatalf("expired previous: %v", err)
	}
	// The next finished answer sweeps the expired ones (once an hour).
	turn(t, c, `{"model":"m","input":"new"}`, &api.Answer{Text: "x"})
	if st.Len() != 1 {
		t.Fatalf("%d stored after the sweep, want 1", st.Len())
	}
}

func TestStoreFalseIsNotKept(t *testing.T) {
	st := NewMemoryStore(nil)
	c := New(st, 0)
	_, id := turn(t, c, `{"model":"m","input":"secret","store":false}`, &api.Answer{Text: "ok"})
	if st.Len() != 0 {
		t.Fatalf("store:false answer was kept")
	}
	_, err := c.Decode(context.Background(), []byte(`{"model":"m","previous_response_id":"`+id+`","input":"more"}`), http.Header{})
	var p *api.Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotFound {
		t.Fatalf("previous store:false answer: %v, want 404", err)
	}
	rec := httptest.NewRecorder()
	serve(t, GetHandler(st), id, rec)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET store:false answer: %d", rec.Code)
	}
}

func serve(t *testing.T, h http.HandlerFunc, id string, rec *httptest.ResponseRecorder) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /v1/responses/{id}", h)
	mux.Handle("DELETE /v1/responses/{id}", h)
	method := http.MethodGet
	if rec.Header().Get("X-Test-Delete") != "" {
		method = http.MethodDelete
	}
	mux.ServeHTTP(rec, httptest.NewRequest(method, "/v1/responses/"+id, nil))
}

// failingStore fails every call with a non-"not found" error.
type failingStore struct{ *MemoryStore }

func (failingStore) GetResponse(context.Context, string) (*store.StoredResponse, error) {
	return nil, errors.New("disk on fire")
}

func TestHandlers(t *testing.T) {
	st := NewMemoryStore(nil)
	c := New(st, 0)
	_, id := turn(t, c, `{"model":"m","input":"hi"}`, &api.Answer{Text: "hello"})

	for _, tc := range []struct {
		name   string
		h      http.HandlerFunc
		del    bool
		id     string
		status int
		check  func(t *testing.T, body []byte)
	}{
		{"get", GetHandler(st), false, id, 200, func(t *testing.T, b []byte) {
			var r Response
			if json.Unmarshal(b, &r) != nil || r.ID != id || r.OutputText != "hello" || r.Object != "response" {
				t.Fatalf("body %s", b)
			}
		}},
		{"get missing", GetHandler(st), false, "resp_nope", 404, errorBody("not_found")},
		{"get without store", GetHandler(nil), false, id, 404, errorBody("not_found")},
		{"get store failure", GetHandler(failingStore{NewMemoryStore(nil)}), false, id, 500, errorBody("store_error")},
		{"delete", DeleteHandler(st), true, id, 200, func(t *testing.T, b []byte) {
			if string(b) != `{"id":"`+id+`","object":"response","deleted":true}` {
				t.Fatalf("body %s", b)
			}
		}},
		{"get deleted", GetHandler(st), false, id, 404, errorBody("not_found")},
		{"delete again", DeleteHandler(st), true, id, 404, errorBody("not_found")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if tc.del {
				rec.Header().Set("X-Test-Delete", "1")
			}
			serve(t, tc.h, tc.id, rec)
			if rec.Code != tc.status || rec.Result().Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tc.status)
			}
			tc.check(t, rec.Body.Bytes())
		})
	}
}

func errorBody(code string) func(t *testing.T, b []byte) {
	return func(t *testing.T, b []byte) {
		var e struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Code    *string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Message == "" || e.Error.Code == nil || *e.Error.Code != code {
			t.Fatalf("error body %s, want code %s", b, code)
		}
	}
}
