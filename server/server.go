// Package server is the article's echo server, traced: it holds each
// connection for a delay from its accept, then echoes everything the
// client sent and sends until the client closes.
// A traced client's preamble (package wire) makes the server's span a child
// of the client's; a plain client (nc, the article's Rust client) gets its
// bytes back unchanged.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"asynctrace/wire"
)

// Defaults for Config fields left zero (docs/design.md, "Limits").
const (
	DefaultFirstByteTimeout = 30 * time.Second
	DefaultRequestTimeout   = time.Minute // beyond the delay
	DefaultHoldBuffer       = 64 << 10
	DefaultMaxConns         = 20000
)

// Config of a Server.
type Config struct {
	// Delay is how long a request is held before it is echoed: 8 units.
	Delay time.Duration
	// FirstByteTimeout bounds the wait for a request's first byte.
	FirstByteTimeout time.Duration
	// RequestTimeout bounds the rest of a request, beyond its delay:
	// receiving it and echoing it all. Past it, the connection is reset.
	RequestTimeout time.Duration
	// HoldBuffer bounds the bytes read and held during the delay; what
	// comes beyond it waits in the kernel, and is echoed, streamed, after
	// the delay. Every byte is echoed; memory stays bounded.
	HoldBuffer int
	// MaxPreamble bounds a request's preamble (default wire.MaxPreamble,
	// at most HoldBuffer).
	MaxPreamble int
	// MaxConns bounds the connections served at once; past it, new ones
	// are closed at once (reset), counted and logged at most once a second.
	MaxConns int
	// TracerProvider makes the server's spans; nil makes none.
	TracerProvider trace.TracerProvider
	// Log gets a line per request in and per echo out; nil discards them.
	Log io.Writer
}

// Server echoes, one goroutine per connection.
type Server struct {
	cfg    Config
	tracer trace.Tracer

	// conns is the parent context of every connection: cancelled, it cuts
	// delays short (Shutdown past its deadline).
	conns  context.Context
	abort  context.CancelFunc
	active sync.WaitGroup

	mu        sync.Mutex // guards listeners, closed, live, and active.Add
	listeners map[net.Listener]struct{}
	closed    bool
	live      map[net.Conn]struct{} // connections being served

	refused      atomic.Int64 // connections refused past MaxConns, in all
	refusedShown atomic.Int64 // of those, how many a log line has told
	lastRefusal  atomic.Int64 // unix nanoseconds of the last refusal log line

	logMu sync.Mutex

	// testHook, if not nil, is called by a connection's goroutine right
	// before each deadline it sets, with the deadline's name: where a
	// test makes the abort land.
	testHook func(deadline string)
}

// New returns a server that is not yet serving.
func New(cfg Config) *Server {
	if cfg.FirstByteTimeout <= 0 {
		cfg.FirstByteTimeout = DefaultFirstByteTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.HoldBuffer <= 0 {
		cfg.HoldBuffer = DefaultHoldBuffer
	}
	if cfg.MaxPreamble <= 0 {
		cfg.MaxPreamble = wire.MaxPreamble
	}
	cfg.MaxPreamble = min(cfg.MaxPreamble, cfg.HoldBuffer)
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, tracer: cfg.TracerProvider.Tracer("asynctrace/server"),
		conns: ctx, abort: cancel, listeners: map[net.Listener]struct{}{}, live: map[net.Conn]struct{}{},
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server closed")

// Serve accepts connections on ln until Shutdown, and returns
// ErrServerClosed then. It closes ln when it returns, as net/http's Serve
// does: a Shutdown that came before Serve began had no ln to close, and
// the kernel would go on completing connections that nobody accepts.
func (s *Server) Serve(ln net.Listener) error {
	defer ln.Close()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("accept: %v; retrying in %v", err, backoff)
				if !s.pause(backoff) {
					return ErrServerClosed
				}
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		backoff = 0
		switch s.track(conn) {
		case closing:
			conn.Close() // accepted as Shutdown closed the listener
			return ErrServerClosed
		case full:
			s.refuse(conn)
			continue
		}
		accepted := time.Now()
		go func() {
			defer s.untrack(conn)
			s.handle(s.conns, conn, accepted)
		}()
	}
}

type admission int

const (
	admitted admission = iota
	closing            // Shutdown has begun
	full               // MaxConns connections are being served
)

// track counts a connection in, unless Shutdown has begun or the server
// is full: Add under the lock that Shutdown takes before it Waits, as
// net/http's trackConn does.
func (s *Server) track(conn net.Conn) admission {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return closing
	case len(s.live) >= s.cfg.MaxConns:
		return full
	}
	s.live[conn] = struct{}{}
	s.active.Add(1)
	return admitted
}

func (s *Server) untrack(conn net.Conn) {
	s.mu.Lock()
	delete(s.live, conn)
	s.mu.Unlock()
	s.active.Done()
}

// cutShort aborts every connection being served: their waits end (conns
// is cancelled) and each is reset and closed, as net/http's Server.Close
// closes its connections. A deadline of now would not do: the
// connection's goroutine may set a later one right after, and undo the
// abort for as long as that deadline (up to the first-byte or the request
// timeout); nothing undoes a close.
func (s *Server) cutShort() {
	s.abort()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.live {
		reset(c)
	}
}

// reset closes conn with a reset, which the client sees as a request cut
// short rather than a clean end.
func reset(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// hook calls the test's hook, if any, before the deadline named.
func (s *Server) hook(deadline string) {
	if s.testHook != nil {
		s.testHook(deadline)
	}
}

// refuse closes a connection past MaxConns at once, with a reset the
// client sees, counts it, and logs at most once a second.
func (s *Server) refuse(conn net.Conn) {
	reset(conn)
	n := s.refused.Add(1)
	now := time.Now().UnixNano()
	last := s.lastRefusal.Load()
	if now-last >= int64(time.Second) && s.lastRefusal.CompareAndSwap(last, now) {
		shown := s.refusedShown.Swap(n)
		s.logf("refused %d connection(s) (%d in all): the limit is %d connections at once", n-shown, n, s.cfg.MaxConns)
	}
}

// Refused is how many connections were refused past MaxConns.
func (s *Server) Refused() int64 { return s.refused.Load() }

// pause waits d, or until the server is cut short; it says whether to go on.
func (s *Server) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return !s.isClosed()
	case <-s.conns.Done():
		return false
	}
}

// Shutdown stops accepting and waits for the connections in flight to
// finish. If ctx ends first, it aborts them (resets and closes each),
// waits for their goroutines to end, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	var errs []error
	for ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cutShort()
		<-done
		errs = append(errs, ctx.Err())
	}
	s.abort()
	return errors.Join(errs...)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.cfg.Log, format+"\n", args...)
}
