// Command baseline is the C10k floor of this machine: the pattern of an
// asynctrace multi-thread run (each task waits 2u, dials, sends, the
// server holds the request 8u and echoes it, the task reads, closes and
// waits 4u) in plain Go, with no spans, timestamps, events or logs.
// scripts/bench runs it beside the real client, so that the scale table
// tells what the machine costs from what asynctrace costs.
//
//	baseline -serve 127.0.0.1:7000 -unit 200ms           # the echo server
//	baseline -addr 127.0.0.1:7000 -unit 200ms -tasks N   # the client: prints JSON
//	baseline -addr ... -locked                           # a thread per task, as os-threads
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	serve := flag.String("serve", "", "run the echo server on this address")
	addr := flag.String("addr", "", "run the tasks against the server at this address")
	tasks := flag.Int("tasks", 10000, "tasks")
	unit := flag.Duration("unit", 200*time.Millisecond, "time unit u")
	locked := flag.Bool("locked", false, "each task on an OS thread of its own (runtime.LockOSThread), as os-threads runs; GOMAXPROCS 64 and a thread limit above the tasks")
	flag.Parse()
	var err error
	switch {
	case *serve != "":
		err = server(*serve, 8**unit)
	case *addr != "":
		if *locked {
			runtime.GOMAXPROCS(64)
			debug.SetMaxThreads(*tasks + 2000)
		}
		err = client(*addr, *tasks, *unit, *locked)
	default:
		err = fmt.Errorf("give -serve or -addr")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
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
}

func client(addr string, n int, u time.Duration, locked bool) error {
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		failed     int
		connectMax time.Duration
		lastEnd    time.Duration // the makespan: until the last task's end, as asynctrace measures it
	)
	start := time.Now()
	for range n {
		wg.Go(func() {
			if locked {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			ok := task(addr, u, start, &mu, &connectMax)
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
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return json.NewEncoder(os.Stdout).Encode(Result{Tasks: n, Failed: failed, MakespanMS: ms(lastEnd), ConnectMaxMS: ms(connectMax), PeakRSSBytes: peakRSS()})
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

func task(addr string, u time.Duration, start time.Time, mu *sync.Mutex, connectMax *time.Duration) bool {
	time.Sleep(2 * u)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return false
	}
	d := time.Since(start)
	mu.Lock()
	*connectMax = max(*connectMax, d)
	mu.Unlock()
	msg := []byte("task12345")
	if _, err := c.Write(msg); err != nil {
		c.Close()
		return false
	}
	_, err = io.ReadFull(c, make([]byte, len(msg)))
	c.Close()
	if err != nil {
		return false
	}
	time.Sleep(4 * u)
	return true
}
