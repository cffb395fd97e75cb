package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jaegerProc is Jaeger built from its module, on free loopback ports, with
// the project's configuration (testdata/jaeger.yaml).
type jaegerProc struct {
	*proc
	query, otlpGRPC, otlpHTTP, health int
}

func startJaeger(bin, dir string) (*jaegerProc, error) {
	ports := make([]int, 5)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	j := &jaegerProc{query: ports[0], otlpGRPC: ports[1], otlpHTTP: ports[2], health: ports[3]}
	env := append(os.Environ(),
		"JAEGER_QUERY_PORT="+strconv.Itoa(j.query),
		"JAEGER_OTLP_GRPC_PORT="+strconv.Itoa(j.otlpGRPC),
		"JAEGER_OTLP_HTTP_PORT="+strconv.Itoa(j.otlpHTTP),
		"JAEGER_HEALTH_PORT="+strconv.Itoa(j.health),
		"JAEGER_QUERY_GRPC_PORT="+strconv.Itoa(ports[4]),
	)
	p, err := start(bin, []string{"--config", filepath.Join(moduleRoot(), "e2e", "testdata", "jaeger.yaml")}, env)
	if err != nil {
		return nil, err
	}
	j.proc = p
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("exited: %v\n%s", p.err, p.stderr.String())
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/status", j.health))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j, nil
			}
		}
	}
	j.stop()
	return nil, fmt.Errorf("not healthy after 60s:\n%s", p.stderr.String())
}

func (j *jaegerProc) stop() { j.proc.stop(10 * time.Second) }

// otlpPorts maps Jaeger's container ports, as the compose file names them,
// to the ports this Jaeger listens on.
func (j *jaegerProc) otlpPorts() map[uint32]int {
	return map[uint32]int{4317: j.otlpGRPC, 4318: j.otlpHTTP}
}

func (j *jaegerProc) otlpEndpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", j.otlpGRPC) }

// The trace as Jaeger's query API returns it (the JSON the UI reads).
type jTrace struct {
	TraceID   string              `json:"traceID"`
	Spans     []jSpan             `json:"spans"`
	Processes map[string]jProcess `json:"processes"`
}

type jSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64  `json:"startTime"` // µs since the epoch
	Duration  int64  `json:"duration"`  // µs
	Tags      []jTag `json:"tags"`
	ProcessID string `json:"processID"`
}

type jTag struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jProcess struct {
	ServiceName string `json:"serviceName"`
}

func (s jSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s jSpan) tag(key string) (jTag, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return t, true
		}
	}
	return jTag{}, false
}

// intTag is an int64 tag's value; Jaeger's JSON carries it as a number.
func (s jSpan) intTag(key string) (int64, bool) {
	t, ok := s.tag(key)
	if !ok || t.Type != "int64" {
		return 0, false
	}
	f, ok := t.Value.(float64)
	return int64(f), ok
}

func (s jSpan) start() time.Time  { return time.UnixMicro(s.StartTime) }
func (s jSpan) end() time.Time    { return time.UnixMicro(s.StartTime + s.Duration) }
func (s jSpan) dur() time.Duration { return time.Duration(s.Duration) * time.Microsecond }

// getTrace fetches a trace once: nil if Jaeger does not have it (yet).
func (j *jaegerProc) getTrace(id string) (*jTrace, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/traces/%s", j.query, id))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/traces/%s: %s: %s", id, resp.Status, body)
	}
	var r struct {
		Data []jTrace `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("GET /api/traces/%s: %v", id, err)
	}
	if len(r.Data) == 0 {
		return nil, nil
	}
	return &r.Data[0], nil
}

// awaitTrace polls Jaeger until the trace holds every span named in want
// (service → span names, with repeats), or fails the test saying which are
// missing.
func (j *jaegerProc) awaitTrace(t *testing.T, id string, want map[string][]string) *jTrace {
	t.Helper()
	var (
		tr      *jTrace
		err     error
		missing []string
	)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		tr, err = j.getTrace(id)
		if err != nil || tr == nil {
			missing = []string{"the whole trace"}
			continue
		}
		if missing = missingSpans(tr, want); len(missing) == 0 {
			return tr
		}
	}
	t.Fatalf("trace %s in Jaeger after 30s: missing %s (last error: %v)", id, strings.Join(missing, ", "), err)
	return nil
}

func missingSpans(tr *jTrace, want map[string][]string) []string {
	have := map[string]int{}
	for _, s := range tr.Spans {
		have[tr.Processes[s.ProcessID].ServiceName+"/"+s.OperationName]++
	}
	var missing []string
	for svc, names := range want {
		need := map[string]int{}
		for _, n := range names {
			need[svc+"/"+n]++
		}
		for k, n := range need {
			if have[k] < n {
				missing = append(missing, fmt.Sprintf("%d of %d %s", n-have[k], n, k))
			}
		}
	}
	slices.Sort(missing)
	return missing
}
