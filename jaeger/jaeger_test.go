package jaeger

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

const answer = `{"data":[{"traceID":"abc","spans":[
 {"traceID":"abc","spanID":"1","operationName":"scenario sync","references":[],"startTime":1000,"duration":500,
  "tags":[{"key":"asynctrace.tasks","type":"int64","value":3},{"key":"asynctrace.scenario","type":"string","value":"sync"}],"processID":"p1"},
 {"traceID":"abc","spanID":"2","operationName":"echo","references":[{"refType":"CHILD_OF","traceID":"abc","spanID":"1"}],"startTime":1100,"duration":10,"tags":[],"processID":"p2"}],
 "processes":{"p1":{"serviceName":"async-client","tags":[]},"p2":{"serviceName":"echo-server","tags":[]}}}],
 "total":0,"limit":0,"offset":0,"errors":null}`

func TestDecode(t *testing.T) {
	traces, err := Decode([]byte(answer))
	if err != nil || len(traces) != 1 {
		t.Fatalf("Decode = %v, %v", traces, err)
	}
	tr := traces[0]
	root, echo := tr.Spans[0], tr.Spans[1]
	if n, ok := root.Int("asynctrace.tasks"); !ok || n != 3 {
		t.Errorf("Int(asynctrace.tasks) = %d, %v", n, ok)
	}
	if _, ok := root.Int("asynctrace.scenario"); ok {
		t.Error("Int of a string tag: ok")
	}
	if echo.Parent() != "1" || root.Parent() != "" {
		t.Errorf("parents %q, %q", echo.Parent(), root.Parent())
	}
	if tr.Service(echo) != "echo-server" || !root.End().Equal(time.UnixMicro(1500)) {
		t.Errorf("service %q, end %v", tr.Service(echo), root.End())
	}
	if _, err := Decode([]byte(`{"data":null,"errors":[{"code":400,"msg":"bad trace id"}]}`)); err == nil {
		t.Error("Decode of an error answer: no error")
	}
}

func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/traces/abc":
			w.Write([]byte(answer))
		case r.URL.Path == "/api/traces" && r.URL.Query().Get("service") == "async-client" && r.URL.Query().Get("limit") == "5":
			w.Write([]byte(answer))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := Client{BaseURL: srv.URL + "/"}
	ctx := context.Background()
	if tr, err := c.Trace(ctx, "abc"); err != nil || tr.TraceID != "abc" {
		t.Errorf("Trace(abc) = %v, %v", tr, err)
	}
	if _, err := c.Trace(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Trace(nope) error = %v, want ErrNotFound", err)
	}
	if ts, err := c.Latest(ctx, "async-client", 5, time.Hour); err != nil || len(ts) != 1 {
		t.Errorf("Latest = %d traces, %v", len(ts), err)
	}
}
