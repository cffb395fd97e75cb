package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"asynctrace/cmd/internal/cli"
	"asynctrace/jaeger"
	"asynctrace/tracing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		give    string
		wantErr string // in the usage error; "" for none
	}{
		{give: ""},
		{give: "-last 5 -verify"},
		{give: "-trace 4bf92f3577b34da6a3ce929d0e0e4736 -verify -expect multi-thread -procs 3"},
		{give: "-trace nothex", wantErr: "32 hexadecimal digits"},
		{give: "-expect multi-thread", wantErr: "-expect goes with -verify"},
		{give: "-verify -procs 3", wantErr: "go with -expect"},
		{give: "-verify -expect async", wantErr: "unknown scenario"},
		{give: "-last 0", wantErr: "-last"},
		{give: "-color sometimes", wantErr: "-color"},
		{give: "-tolerance -1", wantErr: "-tolerance"},
	}
	for _, tt := range tests {
		_, err := parseFlags(strings.Fields(tt.give), io.Discard)
		var u cli.UsageError
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parseFlags(%q) = %v", tt.give, err)
		case tt.wantErr != "" && (!errors.As(err, &u) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseFlags(%q) = %v, want a usage error saying %q", tt.give, err, tt.wantErr)
		}
	}
}

// With one trace of the file incomplete, the complete ones are still
// drawn, and the command fails naming the other.
func TestRunIncompleteTrace(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "diagram", "testdata", "sync.json"))
	if err != nil {
		t.Fatal(err)
	}
	traces, err := jaeger.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	broken := traces[0]
	broken.TraceID = "0123456789abcdef0123456789abcdef"
	broken.Spans = slices.DeleteFunc(slices.Clone(broken.Spans), func(s jaeger.APISpan) bool { return s.OperationName == tracing.SpanCompute })
	file := filepath.Join(t.TempDir(), "two.json")
	out, _ := json.Marshal(map[string][]jaeger.Trace{"data": {traces[0], broken}})
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"-file", file, "-svg", dir}, &stdout, &stderr)
	if !errors.Is(err, cli.ErrReported) || !strings.Contains(stderr.String(), broken.TraceID+" is incomplete") {
		t.Errorf("run = %v, stderr %q; want a failure naming the incomplete trace", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "sync.svg")); err != nil {
		t.Errorf("the complete trace was not drawn: %v", err)
	}
}

// A failed run's trace (its task spans marked errors, as the client marks
// them) is named failed, with the first task's error, not incomplete; and
// it is not polled for the whole -wait: waiting will not complete it.
func TestRunFailedTrace(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "diagram", "testdata", "sync.json"))
	if err != nil {
		t.Fatal(err)
	}
	traces, err := jaeger.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	tr := traces[0]
	tr.Spans = slices.Clone(tr.Spans)
	tr.Spans = slices.DeleteFunc(tr.Spans, func(s jaeger.APISpan) bool { return s.OperationName == tracing.SpanCompute })
	for i, s := range tr.Spans {
		if s.OperationName == "task2" {
			tr.Spans[i].Tags = append(slices.Clone(s.Tags),
				jaeger.Tag{Key: "otel.status_code", Type: "string", Value: "ERROR"},
				jaeger.Tag{Key: "otel.status_description", Type: "string", Value: "task2: compute: cancelled"})
		}
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string][]jaeger.Trace{"data": {tr}})
	}))
	defer api.Close()
	t0 := time.Now()
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"-jaeger", api.URL, "-trace", tr.TraceID, "-wait", "60s"}, &stdout, &stderr)
	if took := time.Since(t0); took > 30*time.Second {
		t.Errorf("run took %v: it polled a failed run's trace", took)
	}
	want := tr.TraceID + " is of a failed run: 1 task(s) failed; the first: task2: compute: cancelled"
	if err == nil || !strings.Contains(err.Error()+stderr.String(), want) || strings.Contains(err.Error()+stderr.String(), "incomplete") {
		t.Errorf("run = %v, stderr %q; want %q", err, stderr.String(), want)
	}
}
