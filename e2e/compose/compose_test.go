package compose

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"asynctrace/scenario"
)

func load(t *testing.T) *types.Project {
	t.Helper()
	p, err := Load(context.Background(), Path())
	if err != nil {
		t.Fatalf("load %s: %v", Path(), err)
	}
	return p
}

func TestJaeger(t *testing.T) {
	j, ok := load(t).Services["jaeger"]
	if !ok {
		t.Fatal("no service jaeger")
	}
	for _, port := range []uint32{16686, 4317, 4318} {
		if !slices.ContainsFunc(j.Ports, func(p types.ServicePortConfig) bool {
			return p.Target == port && p.Published == itoa(port)
		}) {
			t.Errorf("jaeger does not publish %d", port)
		}
	}
	if j.HealthCheck == nil || len(j.HealthCheck.Test) < 2 || !strings.Contains(strings.Join(j.HealthCheck.Test, " "), ":13133/status") {
		t.Errorf("jaeger healthcheck %v, want one on the healthcheckv2 port", j.HealthCheck)
	}
}

func itoa(p uint32) string { return strconv.FormatUint(uint64(p), 10) }

func TestEchoServer(t *testing.T) {
	s, ok := load(t).Services["echo-server"]
	if !ok {
		t.Fatal("no service echo-server")
	}
	if s.Build == nil || s.Build.Dockerfile != "Dockerfile" {
		t.Errorf("echo-server build %+v, want the Dockerfile", s.Build)
	}
	if len(s.Command) == 0 || s.Command[0] != "/server" {
		t.Fatalf("echo-server command %q, want /server ...", s.Command)
	}
	addr, _ := Flag(s.Command, "addr")
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "0.0.0.0" {
		t.Errorf("echo-server -addr %q, want 0.0.0.0:<port>: inside the network it must listen on every interface", addr)
	}
	if !slices.ContainsFunc(s.Ports, func(p types.ServicePortConfig) bool { return itoa(p.Target) == port }) {
		t.Errorf("echo-server does not publish its port %s", port)
	}
	checkOTLP(t, "echo-server", s)
	if c := s.DependsOn["jaeger"].Condition; c != types.ServiceConditionHealthy {
		t.Errorf("echo-server depends on jaeger %q, want service_healthy", c)
	}
}

// clientPrefixes name the client services of each runtime: client-sync
// runs Go's client, tokio-sync the article's Tokio program.
var clientPrefixes = map[scenario.Runtime]string{scenario.Go: "client-", scenario.Tokio: "tokio-"}

// isClient says whether a service is one of the clients.
func isClient(name string) bool {
	for _, prefix := range clientPrefixes {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// One client per scenario and runtime, pointed at the echo server's port
// with the server's unit, exporting to Jaeger.
func TestClients(t *testing.T) {
	for rt, prefix := range clientPrefixes {
		t.Run(string(rt), func(t *testing.T) { checkClients(t, rt, prefix) })
	}
}

func checkClients(t *testing.T, rt scenario.Runtime, prefix string) {
	p := load(t)
	srv := p.Services["echo-server"]
	_, srvPort, _ := net.SplitHostPort(flag(t, "echo-server", srv.Command, "addr"))
	srvUnit := flag(t, "echo-server", srv.Command, "unit")

	var seen []scenario.Scenario
	for name, s := range p.Services {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if got, _ := Flag(s.Command, "runtime"); got != string(rt) && (rt != scenario.Go || got != "") {
			t.Errorf("%s -runtime %q, want %s", name, got, rt)
		}
		if len(s.Command) == 0 || s.Command[0] != "/client" {
			t.Errorf("%s command %q, want /client ...", name, s.Command)
			continue
		}
		if s.Image != srv.Image {
			t.Errorf("%s image %q, want the echo server's %q", name, s.Image, srv.Image)
		}
		sc, err := scenario.Parse(flag(t, name, s.Command, "scenario"))
		if err != nil || prefix+string(sc) != name {
			t.Errorf("%s runs scenario %q (%v), want %s", name, sc, err, strings.TrimPrefix(name, prefix))
		}
		seen = append(seen, sc)
		host, port, _ := net.SplitHostPort(flag(t, name, s.Command, "addr"))
		if _, ok := p.Services[host]; host != "echo-server" || !ok || port != srvPort {
			t.Errorf("%s -addr %s:%s, want echo-server:%s", name, host, port, srvPort)
		}
		if u := flag(t, name, s.Command, "unit"); u != srvUnit {
			t.Errorf("%s -unit %s, the server's is %s", name, u, srvUnit)
		}
		checkOTLP(t, name, s)
		if c := s.DependsOn["jaeger"].Condition; c != types.ServiceConditionHealthy {
			t.Errorf("%s depends on jaeger %q, want service_healthy", name, c)
		}
		if _, ok := s.DependsOn["echo-server"]; !ok {
			t.Errorf("%s does not depend on echo-server", name)
		}
	}
	slices.Sort(seen)
	want := slices.Clone(scenario.All)
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("client services run %v, want one for each of %v", seen, want)
	}
}

// checkOTLP: the exporter's standard variable, at Jaeger's OTLP gRPC port,
// in plaintext (http://), as Jaeger's receiver speaks by default.
func checkOTLP(t *testing.T, name string, s types.ServiceConfig) {
	t.Helper()
	v := s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
	if v == nil || *v != "http://jaeger:4317" {
		t.Errorf("%s OTEL_EXPORTER_OTLP_ENDPOINT = %v, want http://jaeger:4317", name, v)
	}
}

// flag is the value of -name in a service's command; the test fails if
// the flag is not there.
func flag(t *testing.T, service string, args []string, name string) string {
	t.Helper()
	v, ok := Flag(args, name)
	if !ok {
		t.Errorf("%s: no -%s in %q", service, name, args)
	}
	return v
}

// The verify service runs after every client, against Jaeger's query port.
func TestVerify(t *testing.T) {
	p := load(t)
	v, ok := p.Services["verify"]
	if !ok {
		t.Fatal("no service verify")
	}
	if len(v.Command) == 0 || v.Command[0] != "/diagram" || !slices.Contains(v.Command, "-verify") {
		t.Errorf("verify command %q, want /diagram ... -verify", v.Command)
	}
	u, err := url.Parse(flag(t, "verify", v.Command, "jaeger"))
	if err != nil || u.Hostname() != "jaeger" || u.Port() != "16686" {
		t.Errorf("verify -jaeger %q, want the jaeger service's query port 16686", flag(t, "verify", v.Command, "jaeger"))
	}
	if n := flag(t, "verify", v.Command, "last"); n != strconv.Itoa(len(scenario.All)) {
		t.Errorf("verify -last %s, want one per scenario (%d)", n, len(scenario.All))
	}
	if s := flag(t, "verify", v.Command, "service"); s != "async-client,tokio-client" {
		t.Errorf("verify -service %s, want both runtimes' clients: async-client,tokio-client", s)
	}
	for name := range p.Services {
		if isClient(name) && v.DependsOn[name].Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("verify does not wait for %s to complete", name)
		}
	}
}

func TestFlag(t *testing.T) {
	tests := []struct {
		give   string
		name   string
		want   string
		wantOK bool
	}{
		{"/client -addr a:1 -unit 1s", "addr", "a:1", true},
		{"/client -addr=a:1", "addr", "a:1", true},
		{"/client --unit 2s", "unit", "2s", true},
		{"/client -address x", "addr", "", false},
	}
	for _, tt := range tests {
		got, ok := Flag(strings.Fields(tt.give), tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Flag(%q, %q) = %q, %v; want %q, %v", tt.give, tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

// The web page: on every interface of its container, published on 8080,
// exporting to Jaeger, its trace links for the browser on the host
// (localhost:16686, published by the jaeger service) and its queries to
// Jaeger inside the network.
func TestWeb(t *testing.T) {
	p := load(t)
	s, ok := p.Services["web"]
	if !ok {
		t.Fatal("no service web")
	}
	if len(s.Command) == 0 || s.Command[0] != "/web" {
		t.Fatalf("web command %q, want /web ...", s.Command)
	}
	if s.Image != p.Services["echo-server"].Image {
		t.Errorf("web image %q, want the echo server's", s.Image)
	}
	host, port, err := net.SplitHostPort(flag(t, "web", s.Command, "addr"))
	if err != nil || host != "0.0.0.0" || port != "8080" {
		t.Errorf("web -addr %s:%s, want 0.0.0.0:8080", host, port)
	}
	if !slices.ContainsFunc(s.Ports, func(pc types.ServicePortConfig) bool { return itoa(pc.Target) == "8080" && pc.Published == "8080" }) {
		t.Errorf("web does not publish 8080 as 8080")
	}
	if u := flag(t, "web", s.Command, "jaeger-ui"); u != "http://localhost:16686" {
		t.Errorf("web -jaeger-ui %q, want http://localhost:16686: the browser's address of the published port", u)
	}
	if u, err := url.Parse(flag(t, "web", s.Command, "jaeger-api")); err != nil || u.Hostname() != "jaeger" || u.Port() != "16686" {
		t.Errorf("web -jaeger-api %v, want the jaeger service's query port", u)
	}
	checkOTLP(t, "web", s)
	if c := s.DependsOn["jaeger"].Condition; c != types.ServiceConditionHealthy {
		t.Errorf("web depends on jaeger %q, want service_healthy", c)
	}
}

// Every published port is bound to loopback unless ASYNCTRACE_BIND says
// otherwise: the page starts processes on request, and the echo server and
// Jaeger's OTLP ports take anything.
func TestPublishedOnLoopback(t *testing.T) {
	n := 0
	for name, s := range load(t).Services {
		for _, p := range s.Ports {
			n++
			if p.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q, want 127.0.0.1", name, p.Target, p.HostIP)
			}
		}
	}
	if n == 0 {
		t.Error("no published ports")
	}
	open, err := LoadEnv(context.Background(), Path(), types.Mapping{"ASYNCTRACE_BIND": "0.0.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range open.Services {
		for _, p := range s.Ports {
			if p.HostIP != "0.0.0.0" {
				t.Errorf("ASYNCTRACE_BIND=0.0.0.0: %s publishes %d on %q", name, p.Target, p.HostIP)
			}
		}
	}
}
