package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"asynctrace/client"
	"asynctrace/tracing"
)

// With Jaeger absent, a run is not hurt: client and server, pointed (by the
// compose file's variables) at a port where nothing listens, do their work,
// exit 0, warn once each, and do not hang at exit.
func TestE2ENoJaeger(t *testing.T) {
	port, err := freePort() // nothing listens there once freePort returns
	if err != nil {
		t.Fatal(err)
	}
	nowhere := map[uint32]int{4317: port, 4318: port}
	addr, srv := startServer(t, nowhere)

	args, env := composeCommand(t, "client-multi-thread", map[string]string{"addr": addr, "unit": "20ms"}, nowhere)
	t0 := time.Now()
	p, err := start(clientBin, append(args, "-json"), env)
	if err != nil {
		t.Fatal(err)
	}
	limit := 30 * time.Second
	if !p.wait(limit) {
		p.stop(time.Second)
		t.Fatalf("client still running after %v with no collector", limit)
	}
	took := time.Since(t0)
	if p.err != nil {
		t.Fatalf("client exit: %v\n%s", p.err, p.stderr.String())
	}
	var res client.Result
	if err := json.Unmarshal([]byte(p.stdout.String()), &res); err != nil || len(res.Errors) > 0 {
		t.Fatalf("client output %q: %v", p.stdout.String(), err)
	}
	// Exits within the flush bound of finishing (plus process start-up).
	if over := took - res.Makespan; over > tracing.ShutdownTimeout+2*time.Second {
		t.Errorf("client exited %v after its run ended, want at most %v", over, tracing.ShutdownTimeout)
	}
	checkOneWarning(t, "client", p.stderr.String())

	t1 := time.Now()
	if !srv.stop(tracing.ShutdownTimeout + 5*time.Second) {
		t.Fatalf("server did not exit within %v of SIGTERM", tracing.ShutdownTimeout+5*time.Second)
	}
	if srv.err != nil {
		t.Errorf("server exit: %v", srv.err)
	}
	t.Logf("client finished %v after its %v run; server exited %v after SIGTERM", took-res.Makespan, res.Makespan, time.Since(t1))
	checkOneWarning(t, "server", srv.stderr.String())
}

func checkOneWarning(t *testing.T, who, stderr string) {
	t.Helper()
	if n := strings.Count(stderr, "warning:"); n != 1 {
		t.Errorf("%s stderr has %d warnings, want 1:\n%s", who, n, stderr)
	}
}
