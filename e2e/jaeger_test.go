package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"asynctrace/jaeger"
)

// jaegerProc is Jaeger built from its module, on free loopback ports, with
// the project's configuration (testdata/jaeger.yaml).
type jaegerProc struct {
	*proc
	host                              string // the address it listens on
	query, otlpGRPC, otlpHTTP, health int
	ports                             []int
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
	return startJaegerOn(bin, ports)
}

// startJaegerOn starts Jaeger on the five ports given (query, OTLP gRPC,
// OTLP HTTP, health, query gRPC): a restart reuses them.
func startJaegerOn(bin string, ports []int) (*jaegerProc, error) {
	return startJaegerIn(bin, ports, "127.0.0.1", "")
}

// startJaegerIn starts Jaeger listening on host, inside the network
// namespace ns if not "".
func startJaegerIn(bin string, ports []int, host, ns string) (*jaegerProc, error) {
	j := &jaegerProc{host: host, query: ports[0], otlpGRPC: ports[1], otlpHTTP: ports[2], health: ports[3], ports: ports}
	env := append(os.Environ(),
		"JAEGER_HOST="+host,
		"JAEGER_QUERY_PORT="+strconv.Itoa(j.query),
		"JAEGER_OTLP_GRPC_PORT="+strconv.Itoa(j.otlpGRPC),
		"JAEGER_OTLP_HTTP_PORT="+strconv.Itoa(j.otlpHTTP),
		"JAEGER_HEALTH_PORT="+strconv.Itoa(j.health),
		"JAEGER_QUERY_GRPC_PORT="+strconv.Itoa(ports[4]),
		"JAEGER_UI_ASSETS="+uiAssets(),
	)
	name, args := inNetns(ns, bin, "--config", filepath.Join(moduleRoot(), "e2e", "testdata", "jaeger.yaml"))
	p, err := start(name, args, env)
	if err != nil {
		return nil, err
	}
	j.proc = p
	healthy := poll(60*time.Second, 100*time.Millisecond, p.done, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://%s/status", net.JoinHostPort(host, strconv.Itoa(j.health))))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	select {
	case <-p.done:
		return nil, fmt.Errorf("exited: %v\n%s", p.err, p.stderr.String())
	default:
	}
	if healthy {
		return j, nil
	}
	j.stop()
	return nil, fmt.Errorf("not healthy after 60s:\n%s", p.stderr.String())
}

func (j *jaegerProc) stop() { j.proc.stop(10 * time.Second) }

// uiAssetsEnv names the build of the real Jaeger UI (jaeger-ui v1.76.0,
// the UI the jaegertracing/jaeger:2.13.0 image embeds), for Jaeger's
// ui.assets_path; by default the project's sibling ../shared/jaeger-ui/build.
const uiAssetsEnv = "ASYNCTRACE_JAEGER_UI_ASSETS"

// uiAssets is the real UI's build directory, or "" where there is none.
func uiAssets() string {
	dir := os.Getenv(uiAssetsEnv)
	if dir == "" {
		dir = filepath.Join(moduleRoot(), "..", "shared", "jaeger-ui", "build")
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		return ""
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// otlpPorts maps Jaeger's container ports, as the compose file names them,
// to the ports this Jaeger listens on.
func (j *jaegerProc) otlpPorts() map[uint32]int {
	return map[uint32]int{4317: j.otlpGRPC, 4318: j.otlpHTTP}
}

func (j *jaegerProc) client() jaeger.Client {
	return jaeger.Client{BaseURL: "http://" + net.JoinHostPort(j.host, strconv.Itoa(j.query))}
}

// awaitTrace polls Jaeger until the trace holds every span named in want
// (service → span names, with repeats), or fails the test saying which are
// missing.
func (j *jaegerProc) awaitTrace(t *testing.T, id string, want map[string][]string) *jaeger.Trace {
	t.Helper()
	var (
		tr      *jaeger.Trace
		err     error
		missing []string
	)
	// A trace of tens of thousands of spans is tens of megabytes: poll it
	// less often.
	every, n := 200*time.Millisecond, 0
	for _, names := range want {
		n += len(names)
	}
	if n > 1000 {
		every = 2 * time.Second
	}
	done := poll(60*time.Second, every, nil, func() bool {
		tr, err = j.client().Trace(context.Background(), id)
		if err != nil {
			missing = []string{"the whole trace"}
			return false
		}
		missing = missingSpans(tr, want)
		return len(missing) == 0
	})
	if done {
		return tr
	}
	t.Fatalf("trace %s in Jaeger after 60s: missing %s (last error: %v)", id, strings.Join(missing, ", "), err)
	return nil
}

func missingSpans(tr *jaeger.Trace, want map[string][]string) []string {
	have := map[string]int{}
	for _, s := range tr.Spans {
		have[tr.Service(s)+"/"+s.OperationName]++
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
