package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"asynctrace/client"
)

// With Jaeger absent, a run is not hurt: client and server, pointed (by the
// compose file's variables) at a port where nothing listens, do their work,
// exit 0 and warn once each; the client within a second of its run's end,
// the server within its grace.
func TestE2ENoJaeger(t *testing.T) {
	port, err := freePort() // nothing listens there once freePort returns
	if err != nil {
		t.Fatal(err)
	}
	nowhere := map[uint32]int{4317: port, 4318: port}
	const grace = 3 * time.Second
	addr, srv := startServerWith(t, nowhere, map[string]string{"grace": grace.String()})

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
	// Within a second of the run's end, plus the process's own start.
	if over := took - res.Makespan; over > 1500*time.Millisecond {
		t.Errorf("client exited %v after its run ended, want within 1s", over)
	}
	checkOneWarning(t, "client", p.stderr.String())

	t1 := time.Now()
	if !srv.stop(grace + 2*time.Second) {
		t.Fatalf("server did not exit within its grace (%v) of SIGTERM", grace)
	}
	if srv.err != nil {
		t.Errorf("server exit: %v", srv.err)
	}
	if d := time.Since(t1); d > grace+time.Second {
		t.Errorf("server exited %v after SIGTERM, want within its grace %v", d, grace)
	}
	t.Logf("no collector: client exited %v after its %v run; server exited %v after SIGTERM (grace %v)", took-res.Makespan, res.Makespan, time.Since(t1), grace)
	checkOneWarning(t, "server", srv.stderr.String())
}

func checkOneWarning(t *testing.T, who, stderr string) {
	t.Helper()
	if n := strings.Count(stderr, "warning:"); n != 1 {
		t.Errorf("%s stderr has %d warnings, want 1:\n%s", who, n, stderr)
	}
}
