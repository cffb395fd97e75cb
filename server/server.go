// Package server is the article's echo server, traced: it holds each
// request for a delay, then writes the bytes back and closes the connection.
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
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Defaults for Config fields left zero.
const (
	DefaultIdleTimeout = time.Minute
	DefaultMaxPayload  = 1 << 20
)

// Config of a Server.
type Config struct {
	// Delay is how long a request is held before it is echoed: 8 units.
	Delay time.Duration
	// IdleTimeout bounds the wait for a request's first byte.
	IdleTimeout time.Duration
	// MaxPayload bounds the bytes echoed; the rest is not read.
	MaxPayload int
	// TracerProvider makes the server's spans; nil makes none.
	TracerProvider trace.TracerProvider
	// Log gets one line per connection; nil discards them.
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

	mu        sync.Mutex // guards listeners, closed, and active.Add
	listeners map[net.Listener]struct{}
	closed    bool
	logMu     sync.Mutex
}

// New returns a server that is not yet serving.
func New(cfg Config) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = DefaultMaxPayload
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
		conns: ctx, abort: cancel, listeners: map[net.Listener]struct{}{},
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server closed")

// Serve accepts connections on ln until Shutdown, and returns
// ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
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
		if !s.track() {
			conn.Close() // accepted as Shutdown closed the listener
			return ErrServerClosed
		}
		go func() {
			defer s.active.Done()
			s.handle(s.conns, conn)
		}()
	}
}

// track counts a connection in, unless Shutdown has begun: Add under the
// lock that Shutdown takes before it Waits, as net/http's trackConn does.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.active.Add(1)
	return true
}

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
// finish. If ctx ends first, it cuts their delays short, waits for them to
// close, and returns ctx's error.
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
		s.abort()
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
