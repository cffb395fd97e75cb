package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"asynctrace/scenario"
)

// startDelayProxy forwards TCP connections from a loopback port of its own
// to target, holding every chunk it forwards for delay, each way: a
// network between client and server, on a machine whose kernel has no
// netem. It connects to target delay after accepting, as a SYN crossing
// the network would arrive. It stops with the test.
func startDelayProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	return startDelayProxyOn(t, "127.0.0.1", target, delay)
}

// startDelayProxyOn is startDelayProxy listening on host.
func startDelayProxyOn(t *testing.T, host, target string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { forward(down, target, delay, done) })
		}
	})
	return ln.Addr().String()
}

// forward carries one connection both ways, each chunk delay late. What
// the client sends from the start is read at once and leaves delay after
// it came, as on a network, whatever the upstream connection is doing.
func forward(down net.Conn, target string, delay time.Duration, done <-chan struct{}) {
	defer down.Close()
	fromClient := read(down)
	if !pause(delay, done) {
		drain(fromClient)
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		drain(fromClient)
		return
	}
	defer up.Close()
	var wg sync.WaitGroup
	wg.Go(func() { late(up, fromClient, delay, done) })
	wg.Go(func() { late(down, read(up), delay, done) })
	wg.Wait()
}

// chunk is what one read took, and when.
type chunk struct {
	at   time.Time
	data []byte
}

// read reads src until its end, into a channel of chunks.
func read(src net.Conn) <-chan chunk {
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				chunks <- chunk{time.Now(), b[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	return chunks
}

func drain(chunks <-chan chunk) {
	for range chunks {
	}
}

// pause waits d, or until done; it says whether to go on.
func pause(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// late writes each chunk to dst delay after it was read, in order; at the
// source's end it closes dst's writing side, as late.
func late(dst net.Conn, chunks <-chan chunk, delay time.Duration, done <-chan struct{}) {
	defer drain(chunks)
	for c := range chunks {
		if !pause(time.Until(c.at.Add(delay)), done) {
			dst.Close()
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			dst.Close()
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// Every scenario across a network of 20 ms each way, at u = 50 ms: the
// client tells the network's time from the server's hold (the server says
// how long it held each request), the model counts it, no unit mismatch
// is reported, and -verify passes on the trace in Jaeger, each echo inside
// its response.
func TestE2ENetworkDelay(t *testing.T) {
	needJaeger(t)
	const oneWay = 20 * time.Millisecond
	otlp := jaegerd.otlpPorts()
	addr, _ := startServer(t, otlp)
	proxy := startDelayProxy(t, addr, oneWay)
	for _, sc := range scenario.All {
		res := runClient(t, "client-"+string(sc), proxy, otlp)
		if res.UnitMismatch != "" {
			t.Errorf("%s: the network's round trip called a unit mismatch: %s", sc, res.UnitMismatch)
		}
		// A request's round trip is 2·20 ms; serial runs wait for each.
		rounds := 1
		if sc.Serial() {
			rounds = res.Tasks
		}
		if lo, hi := time.Duration(rounds)*2*oneWay, time.Duration(rounds)*(2*oneWay+15*time.Millisecond); res.Network < lo || res.Network > hi {
			t.Errorf("%s: network %v, want %v to %v", sc, res.Network, lo, hi)
		}
		if failed := scenario.Failed(res.Checks); len(failed) > 0 {
			t.Errorf("%s: the run's checks failed: %v\n%v", sc, failed, res.Checks)
		}
		out, ok := runDiagram(t, "-jaeger", jaegerd.client().BaseURL, "-trace", res.TraceID, "-verify", "-wait", "30s")
		if !ok || !strings.Contains(out, "ok   echo inside response") {
			t.Errorf("%s: diagram -verify across the network:\n%s", sc, out)
		}
		t.Logf("%s with %v each way: makespan %v, expected %v + network %v (%d round trips)", sc, oneWay,
			res.Makespan.Round(time.Millisecond), res.Expected, res.Network.Round(time.Microsecond), rounds)
	}
}

// Behind the same network, a server that really runs at another unit is
// still named.
func TestE2ENetworkUnitMismatch(t *testing.T) {
	needJaeger(t)
	otlp := jaegerd.otlpPorts()
	addr, _ := startServerWith(t, otlp, map[string]string{"unit": (unit * 6 / 5).String()})
	proxy := startDelayProxy(t, addr, 20*time.Millisecond)
	args, env := composeCommand(t, "client-single-thread", map[string]string{"addr": proxy, "unit": unit.String()}, otlp)
	p := runToEnd(t, clientBin, append(args, "-json"), env)
	if res := clientResult(t, p); !strings.Contains(res.UnitMismatch, "the client's "+unit.String()) {
		t.Errorf("a server at %v behind 20 ms each way: unit_mismatch %q", unit*6/5, res.UnitMismatch)
	}
}

// -verify waits for the server's spans: a server that exports them 3 s
// after the client's are in Jaeger still has them checked.
func TestE2EVerifyWaitsForServerSpans(t *testing.T) {
	needJaeger(t)
	otlp := jaegerd.otlpPorts()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args, env := composeCommand(t, "echo-server", map[string]string{"addr": addr, "unit": unit.String()}, otlp)
	env = append(env, "OTEL_BSP_SCHEDULE_DELAY=3000") // the later entry wins
	startUntil(t, "server", serverBin, args, env, "Server running on "+addr)
	res := runClient(t, "client-multi-thread", addr, otlp)
	start := time.Now()
	out, ok := runDiagram(t, "-jaeger", jaegerd.client().BaseURL, "-trace", res.TraceID, "-verify", "-wait", "30s")
	if !ok || !strings.Contains(out, "ok   echo inside response") {
		t.Errorf("diagram -verify while the server's spans were on their way:\n%s", out)
	}
	t.Logf("verify passed after %v, waiting for the server's spans", time.Since(start).Round(100*time.Millisecond))
}

// inNetns is the command line that runs bin with args inside the network
// namespace ns ("": here).
func inNetns(ns, bin string, args ...string) (string, []string) {
	if ns == "" {
		return bin, args
	}
	return "ip", append([]string{"netns", "exec", ns, bin}, args...)
}

// netnsHost makes a network namespace of the test's own, joined to this
// one by a veth pair: this side local (10.231.x.1), the namespace's side
// remote (10.231.x.2). Removed when the test ends. It skips where the
// machine does not allow it (not root, or no ip), saying so.
func netnsHost(t *testing.T) (ns, local, remote string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil || os.Geteuid() != 0 {
		t.Skip("network namespaces need root and iproute2's ip")
	}
	x := os.Getpid()%200 + 20
	ns = fmt.Sprintf("asynctrace-%d", os.Getpid())
	here, there := fmt.Sprintf("at%dh", x), fmt.Sprintf("at%dn", x)
	local, remote = fmt.Sprintf("10.231.%d.1", x), fmt.Sprintf("10.231.%d.2", x)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() }) // takes the veth pair with it
	ip("link", "add", here, "type", "veth", "peer", "name", there, "netns", ns)
	ip("addr", "add", local+"/30", "dev", here)
	ip("link", "set", here, "up")
	ip("-n", ns, "addr", "add", remote+"/30", "dev", there)
	ip("-n", ns, "link", "set", there, "up")
	ip("-n", ns, "link", "set", "lo", "up")
	return ns, local, remote
}

// Across hosts: the server and Jaeger in a network namespace of their own,
// on the address of its veth interface; the client here, through the
// test's forwarder (20 ms each way) on this side's address. Every
// scenario passes its checks and -verify, no unit mismatch.
func TestE2ENetworkNamespaces(t *testing.T) {
	needJaeger(t)
	ns, local, remote := netnsHost(t)
	ports := make([]int, 6)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	j, err := startJaegerIn(jaegerBin, ports[:5], remote, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer j.stop()
	otlp := "OTEL_EXPORTER_OTLP_ENDPOINT=http://" + net.JoinHostPort(remote, strconv.Itoa(j.otlpGRPC))
	srvAddr := net.JoinHostPort(remote, strconv.Itoa(ports[5]))
	name, args := inNetns(ns, serverBin, "-addr", srvAddr, "-unit", unit.String())
	startUntil(t, "server", name, args, append(os.Environ(), otlp, "OTEL_BSP_SCHEDULE_DELAY=500"), "Server running on "+srvAddr)
	proxy := startDelayProxyOn(t, local, srvAddr, 20*time.Millisecond)
	for _, sc := range scenario.All {
		args := []string{"-addr", proxy, "-unit", unit.String(), "-scenario", string(sc), "-json"}
		if sc == scenario.MultiThread {
			args = append(args, "-procs", "3")
		}
		res := clientResult(t, runToEnd(t, clientBin, args, append(os.Environ(), otlp)))
		if res.UnitMismatch != "" || !scenario.Passed(res.Checks) {
			t.Errorf("%s across namespaces: unit mismatch %q, failed %v", sc, res.UnitMismatch, scenario.Failed(res.Checks))
		}
		out, ok := runDiagram(t, "-jaeger", j.client().BaseURL, "-trace", res.TraceID, "-verify", "-wait", "30s")
		if !ok || !strings.Contains(out, "ok   echo inside response") {
			t.Errorf("%s: diagram -verify across namespaces:\n%s", sc, out)
		}
		t.Logf("%s: client on %s, server and Jaeger on %s in %s: makespan %v, expected %v + network %v",
			sc, local, remote, ns, res.Makespan.Round(time.Millisecond), res.Expected, res.Network.Round(time.Microsecond))
	}
}
