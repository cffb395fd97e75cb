// Command baseline is the C10k floor of this machine: the pattern of an
// asynctrace multi-thread run (each task waits 2u, dials, sends, the
// server holds the request 8u and echoes it, the task reads, closes and
// waits 4u) in plain Go, with no spans, timestamps, events or logs.
// scripts/bench runs it beside the real client, so that the scale table
// tells what the machine costs from what asynctrace costs.
//
// With -spans it is the floor with plain OpenTelemetry: the same tasks,
// and a span per stage in asynctrace's tree (a root, the tasks group, a
// span a task and its four stages), with no attributes and no records of
// its own, exported the way asynctrace exports them (tracing.Setup: the
// same batch processor settings, to the collector OTEL_* names). What
// asynctrace costs beyond it is what asynctrace does, not what the SDK
// does for any program's spans.
//
//	baseline -serve 127.0.0.1:7000 -unit 200ms           # the echo server
//	baseline -addr 127.0.0.1:7000 -unit 200ms -tasks N   # the client: prints JSON
//	baseline -addr ... -locked                           # a thread per task, as os-threads
//	baseline -addr ... -spans                            # a span per stage, exported
//	baseline -addr ... -cpuprofile FILE                  # its CPU profile, as the client's
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"asynctrace/tracing"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	serve := fs.String("serve", "", "run the echo server on this address")
	addr := fs.String("addr", "", "run the tasks against the server at this address")
	tasks := fs.Int("tasks", 10000, "tasks")
	unit := fs.Duration("unit", 200*time.Millisecond, "time unit u")
	locked := fs.Bool("locked", false, "each task on an OS thread of its own (runtime.LockOSThread), as os-threads runs; GOMAXPROCS 64 and a thread limit above the tasks")
	spans := fs.Bool("spans", false, "a span per stage, as asynctrace's tree, no attributes, exported as asynctrace exports (OTEL_* say where)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the client to this file, as the client's -cpuprofile")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			err = errors.Join(err, f.Close())
		}()
	}
	switch {
	case *serve != "":
		return server(*serve, 8**unit)
	case *addr == "":
		return errors.New("give -serve or -addr")
	}
	if *locked {
		runtime.GOMAXPROCS(64)
		debug.SetMaxThreads(*tasks + 2000)
	}
	var tracer trace.Tracer // nil: no spans at all, not even no-op ones
	flush := func() {}
	if *spans {
		ctx := context.Background()
		sdk, shutdown, err := tracing.Setup(ctx, tracing.Options{Service: "baseline", Version: tracing.Version(), Warn: os.Stderr})
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err = errors.Join(err, shutdown(ctx))
		}()
		tracer = sdk.Tracer("baseline")
		// As the client does after a run: its spans exported before it
		// says anything.
		flush = func() {
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			sdk.ForceFlush(ctx)
		}
	}
	res := client(*addr, *tasks, *unit, *locked, tracer)
	flush()
	return json.NewEncoder(stdout).Encode(res)
}

func server(addr string, delay time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("Server running on", addr)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			b := make([]byte, 64)
			n, err := c.Read(b)
			if err != nil {
				return
			}
			time.Sleep(delay)
			c.Write(b[:n])
			io.Copy(io.Discard, c)
		}()
	}
}

// Result is the client's output.
type Result struct {
	Tasks      int     `json:"tasks"`
	Failed     int     `json:"failed"`
	MakespanMS float64 `json:"makespan_ms"`
	// ConnectMaxMS is when the last dial returned, from the start: 2u
	// plus the dials' queueing.
	ConnectMaxMS float64 `json:"connect_max_ms"`
	// PeakRSSBytes is the process's peak resident memory (VmHWM), read by
	// the process itself: a parent's getrusage of it would count the
	// parent's memory at the fork too.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// StacksPerTaskBytes and OSThreadsAdded are as the client's
	// (client.Result): the runtime's stack memory at its peak less that
	// before the tasks, per task; the OS threads at the peak less those
	// before.
	StacksPerTaskBytes int64 `json:"stacks_per_task_bytes"`
	OSThreadsAdded     int   `json:"os_threads_added"`
}

func client(addr string, n int, u time.Duration, locked bool, tracer trace.Tracer) Result {
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		failed     int
		connectMax time.Duration
		lastEnd    time.Duration // the makespan: until the last task's end, as asynctrace measures it
	)
	runtime.GC()
	stacks0, threads0 := readStacks()
	stop := samplePeak()
	start := time.Now()
	ctx, root := startSpan(context.Background(), tracer, "baseline", trace.WithTimestamp(start))
	ctx, group := startSpan(ctx, tracer, "tasks", trace.WithTimestamp(start))
	for range n {
		// As asynctrace's: a task's span starts before its goroutine runs.
		tctx, span := startSpan(ctx, tracer, "task")
		wg.Go(func() {
			if locked {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			ok := task(tctx, tracer, addr, u, start, &mu, &connectMax)
			endSpan(span)
			end := time.Since(start)
			mu.Lock()
			lastEnd = max(lastEnd, end)
			if !ok {
				failed++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	end := start.Add(lastEnd)
	endSpan(group, trace.WithTimestamp(end))
	endSpan(root, trace.WithTimestamp(end))
	stacks, threads := stop()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Result{Tasks: n, Failed: failed, MakespanMS: ms(lastEnd), ConnectMaxMS: ms(connectMax), PeakRSSBytes: peakRSS(),
		StacksPerTaskBytes: max(0, stacks-stacks0) / int64(n), OSThreadsAdded: max(0, threads-threads0)}
}

// readStacks reads the runtime's stack memory and its OS threads now.
func readStacks() (stacks int64, threads int) {
	s := [2]metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}, {Name: "/sched/threads/total:threads"}}
	metrics.Read(s[:])
	return int64(s[0].Value.Uint64()), int(s[1].Value.Uint64())
}

// samplePeak samples readStacks every 10 ms, as the client does, until
// the func it returns, which takes a last sample and returns the most of
// each.
func samplePeak() func() (stacks int64, threads int) {
	var (
		mu      sync.Mutex
		stacks  int64
		threads int
	)
	sample := func() {
		s, t := readStacks()
		mu.Lock()
		stacks, threads = max(stacks, s), max(threads, t)
		mu.Unlock()
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				sample()
			case <-done:
				return
			}
		}
	})
	return func() (int64, int) {
		close(done)
		wg.Wait()
		sample()
		return stacks, threads
	}
}

// peakRSS is this process's VmHWM, in bytes; 0 where /proc does not say.
func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// startSpan starts a span if there is a tracer; endSpan ends it if there
// is one: without -spans, the floor makes none, not even no-op ones.
func startSpan(ctx context.Context, tracer trace.Tracer, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if tracer == nil {
		return ctx, nil
	}
	return tracer.Start(ctx, name, opts...)
}

func endSpan(s trace.Span, opts ...trace.SpanEndOption) {
	if s != nil {
		s.End(opts...)
	}
}

// task is one task, its four stages each a span under ctx's if there is a
// tracer.
func task(ctx context.Context, tracer trace.Tracer, addr string, u time.Duration, start time.Time, mu *sync.Mutex, connectMax *time.Duration) bool {
	_, s := startSpan(ctx, tracer, "connect")
	time.Sleep(2 * u)
	c, err := net.Dial("tcp", addr)
	endSpan(s)
	if err != nil {
		return false
	}
	d := time.Since(start)
	mu.Lock()
	*connectMax = max(*connectMax, d)
	mu.Unlock()
	_, s = startSpan(ctx, tracer, "response")
	msg := []byte("task12345")
	if _, err := c.Write(msg); err != nil {
		endSpan(s)
		c.Close()
		return false
	}
	_, err = io.ReadFull(c, make([]byte, len(msg)))
	c.Close()
	endSpan(s)
	if err != nil {
		return false
	}
	// The reply's wait for a thread: this program cannot see it (no
	// receive timestamps), so its span is the instant the read returned.
	_, s = startSpan(ctx, tracer, "ready")
	endSpan(s)
	_, s = startSpan(ctx, tracer, "compute")
	time.Sleep(4 * u)
	endSpan(s)
	return true
}
