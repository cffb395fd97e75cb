// Package jaeger reads traces from Jaeger's query API (/api/traces), the
// JSON its UI reads.
package jaeger

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Trace is one trace as the query API returns it.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []APISpan          `json:"spans"`
	Processes map[string]Process `json:"processes"`
}

// APISpan is one span of a Trace, as the query API spells it (package
// diagram's Span is the one the project reads). Times are in microseconds.
type APISpan struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"` // µs since the epoch
	Duration      int64       `json:"duration"`  // µs
	Tags          []Tag       `json:"tags"`
	Logs          []Log       `json:"logs,omitempty"`
	ProcessID     string      `json:"processID"`
	// Warnings are Jaeger's, about this span: clock skew it found, a
	// parent missing from the trace.
	Warnings []string `json:"warnings,omitempty"`
}

// Reference links a span to its parent (refType CHILD_OF) or, for a span
// link, to another span (FOLLOWS_FROM).
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// Tag is a span attribute; Type is string, bool, int64, float64 or binary.
type Tag struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Log is a span event.
type Log struct {
	Timestamp int64 `json:"timestamp"`
	Fields    []Tag `json:"fields"`
}

// Process is the resource of the spans that name it.
type Process struct {
	ServiceName string `json:"serviceName"`
	Tags        []Tag  `json:"tags"`
}

// Parent is the span ID of the CHILD_OF reference, or "".
func (s APISpan) Parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// Links are the span IDs of the span's FOLLOWS_FROM references: its links.
func (s APISpan) Links() []string {
	var ids []string
	for _, r := range s.References {
		if r.RefType == "FOLLOWS_FROM" {
			ids = append(ids, r.SpanID)
		}
	}
	return ids
}

// Tag returns the tag named key.
func (s APISpan) Tag(key string) (Tag, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return t, true
		}
	}
	return Tag{}, false
}

// Int returns an int64 tag's value.
func (s APISpan) Int(key string) (int64, bool) {
	t, ok := s.Tag(key)
	if !ok || t.Type != "int64" {
		return 0, false
	}
	v, ok := t.Value.(float64) // encoding/json decodes every number so
	return int64(v), ok
}

// Start and End of the span.
func (s APISpan) Start() time.Time { return time.UnixMicro(s.StartTime) }
func (s APISpan) End() time.Time   { return time.UnixMicro(s.StartTime + s.Duration) }

// Service is the name of the service that recorded s.
func (t *Trace) Service(s APISpan) string { return t.Processes[s.ProcessID].ServiceName }

// URLEnv names the variable that overrides DefaultURL.
const URLEnv = "ASYNCTRACE_JAEGER_UI"

// DefaultURL is where the commands find Jaeger's UI and query API:
// $ASYNCTRACE_JAEGER_UI, or Jaeger's default port on this host.
func DefaultURL() string {
	if u := os.Getenv(URLEnv); u != "" {
		return u
	}
	return "http://localhost:16686"
}

// TraceURL is the trace's page in the Jaeger UI at base; "" without a
// base.
func TraceURL(base, traceID string) string {
	if base == "" {
		return ""
	}
	return strings.TrimSuffix(base, "/") + "/trace/" + traceID
}

// ErrNotFound: Jaeger has no such trace (yet).
var ErrNotFound = errors.New("trace not found")

// Client queries one Jaeger.
type Client struct {
	BaseURL string       // for example http://localhost:16686
	HTTP    *http.Client // nil: a client with a 10s timeout
}

// Trace fetches one trace by id.
func (c Client) Trace(ctx context.Context, id string) (*Trace, error) {
	traces, err := c.get(ctx, "/api/traces/"+url.PathEscape(id))
	if err != nil {
		return nil, err
	}
	if len(traces) == 0 {
		return nil, fmt.Errorf("trace %s: %w", id, ErrNotFound)
	}
	return &traces[0], nil
}

// Latest fetches the service's traces of the last lookback, newest first,
// at most limit.
func (c Client) Latest(ctx context.Context, service string, limit int, lookback time.Duration) ([]Trace, error) {
	q := url.Values{
		"service":  {service},
		"limit":    {strconv.Itoa(limit)},
		"start":    {strconv.FormatInt(time.Now().Add(-lookback).UnixMicro(), 10)},
		"end":      {strconv.FormatInt(time.Now().UnixMicro(), 10)},
		"lookback": {"custom"},
	}
	traces, err := c.get(ctx, "/api/traces?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// Newest first, by the earliest span of each trace.
	first := func(t Trace) int64 {
		m := int64(0)
		for i, s := range t.Spans {
			if i == 0 || s.StartTime < m {
				m = s.StartTime
			}
		}
		return m
	}
	slices.SortFunc(traces, func(a, b Trace) int { return cmp.Compare(first(b), first(a)) })
	if len(traces) > limit {
		traces = traces[:limit]
	}
	return traces, nil
}

// Operations lists the operation names Jaeger knows for the service, as
// its search form does.
func (c Client) Operations(ctx context.Context, service string) ([]string, error) {
	body, err := c.fetch(ctx, "/api/services/"+url.PathEscape(service)+"/operations")
	if err != nil || body == nil {
		return nil, err
	}
	var r struct {
		Data []string `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode Jaeger operations: %w", err)
	}
	slices.Sort(r.Data)
	return r.Data, nil
}

func (c Client) get(ctx context.Context, path string) ([]Trace, error) {
	body, err := c.fetch(ctx, path)
	if err != nil || body == nil {
		return nil, err
	}
	return Decode(body)
}

// fetch GETs path; a 404 is no body and no error.
func (c Client) fetch(ctx context.Context, path string) ([]byte, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, body)
	}
	return body, nil
}

// Decode reads a query API answer ({"data": [traces]}), as saved to a file
// from /api/traces/{id}.
func Decode(b []byte) ([]Trace, error) {
	var r struct {
		Data   []Trace `json:"data"`
		Errors []struct {
			Msg string `json:"msg"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode Jaeger traces: %w", err)
	}
	if len(r.Errors) > 0 && len(r.Data) == 0 {
		return nil, fmt.Errorf("jaeger: %s", r.Errors[0].Msg)
	}
	return r.Data, nil
}
