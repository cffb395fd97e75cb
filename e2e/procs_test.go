package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"asynctrace/e2e/compose"
	"asynctrace/internal/logtest"
)

// Set by TestMain.
var (
	serverBin, clientBin, diagramBin, webBin string
	jaegerBin                                string
	jaegerd                                  *jaegerProc
	project                                  *types.Project
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	project, err = compose.Load(context.Background(), compose.Path())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "asynctrace-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err = build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		return 1
	}
	bin := os.Getenv("ASYNCTRACE_JAEGER")
	jaegerBin = bin
	if bin == "" {
		fmt.Fprintln(os.Stderr, "e2e: ASYNCTRACE_JAEGER is not set; scripts/test builds Jaeger and sets it. Skipping the tests that need Jaeger.")
	} else {
		if jaegerd, err = startJaeger(bin, dir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: jaeger:", err)
			return 1
		}
		defer jaegerd.stop()
	}
	return m.Run()
}

// needJaeger skips a test when run by plain `go test` without Jaeger.
func needJaeger(t *testing.T) {
	t.Helper()
	if jaegerd == nil {
		t.Skip("no Jaeger: run scripts/test, or set ASYNCTRACE_JAEGER to a jaeger binary")
	}
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// build compiles the commands as the Dockerfile does.
func build(dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/server", "./cmd/client", "./cmd/diagram", "./cmd/web")
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	serverBin, clientBin, diagramBin, webBin = filepath.Join(dir, "server"), filepath.Join(dir, "client"), filepath.Join(dir, "diagram"), filepath.Join(dir, "web")
	return nil
}

// freePort picks a free 127.0.0.1 port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// proc is a child process with its output captured. It is stopped with
// SIGTERM, and killed if it does not exit.
type proc struct {
	cmd    *exec.Cmd
	stdout logtest.Buffer
	stderr logtest.Buffer
	done   chan struct{}
	err    error
}

func start(name string, args, env []string) (*proc, error) {
	p := &proc{cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// wait waits up to d for the process to exit by itself.
func (p *proc) wait(d time.Duration) (exited bool) {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// runToEnd runs a command to its end, failing the test if it fails.
func runToEnd(t *testing.T, bin string, args, env []string) *proc {
	t.Helper()
	p, err := start(bin, args, env)
	if err != nil {
		t.Fatal(err)
	}
	if !p.wait(5 * time.Minute) {
		p.stop(time.Second)
		t.Fatalf("%s did not finish", bin)
	}
	if p.err != nil {
		t.Fatalf("%s %s: %v\n%.2000s", bin, strings.Join(args, " "), p.err, p.stderr.String())
	}
	return p
}

// poll calls check at once and then every period until it returns true,
// or until d has passed or stop is closed; it reports whether check
// returned true. It is how the tests wait for a state they can only look
// at (an HTTP API): with a deadline, on a ticker, never with a sleep.
func poll(d, every time.Duration, stop <-chan struct{}, check func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !check() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return false
		case <-stop:
			return false
		}
	}
	return true
}

// stop sends SIGTERM, waits up to d, then kills.
func (p *proc) stop(d time.Duration) (exitedInTime bool) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	if p.wait(d) {
		return true
	}
	p.cmd.Process.Kill()
	<-p.done
	return false
}

// composeCommand is a compose service's command line and environment, made
// to run here: flags in set replace the file's (loopback addresses, a small
// unit), and an OTLP endpoint naming the jaeger service at one of its
// container ports is pointed at the port Jaeger really has here.
func composeCommand(t *testing.T, service string, set map[string]string, otlp map[uint32]int) (args, env []string) {
	t.Helper()
	s, ok := project.Services[service]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %s", service)
	}
	args = replaceFlags(s.Command[1:], set)
	env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range s.Environment {
		val := ""
		if v != nil {
			val = *v
		}
		if strings.HasPrefix(k, "OTEL_EXPORTER_OTLP_") && strings.HasSuffix(k, "ENDPOINT") {
			val = localEndpoint(t, service, val, otlp)
		}
		env = append(env, k+"="+val)
	}
	return args, env
}

func replaceFlags(args []string, set map[string]string) []string {
	out := []string{}
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		name := strings.TrimLeft(args[i], "-")
		if v, ok := set[name]; ok && strings.HasPrefix(args[i], "-") {
			out = append(out, "-"+name, v)
			seen[name] = true
			i++ // the file's value
			continue
		}
		out = append(out, args[i])
	}
	for name, v := range set {
		if !seen[name] {
			out = append(out, "-"+name, v)
		}
	}
	return out
}

// localEndpoint maps http://jaeger:4317 to http://127.0.0.1:<port>: the
// host must be the compose service that runs Jaeger, the port one it exposes.
func localEndpoint(t *testing.T, service, endpoint string, otlp map[uint32]int) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatalf("%s: endpoint %q: %v", service, endpoint, err)
	}
	j, ok := project.Services[u.Hostname()]
	if !ok || !strings.HasPrefix(j.Image, "jaegertracing/jaeger:") {
		t.Fatalf("%s: endpoint %q names %q, not the Jaeger service", service, endpoint, u.Hostname())
	}
	port, _ := strconv.Atoi(u.Port())
	local, ok := otlp[uint32(port)]
	if !ok {
		t.Fatalf("%s: endpoint %q: port %d is not Jaeger's OTLP gRPC or HTTP port", service, endpoint, port)
	}
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(local))
	return u.String()
}
