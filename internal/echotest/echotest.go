// Package echotest serves the echo server in-process on a free loopback
// port for a test, in the style of httptest.NewServer.
package echotest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"asynctrace/server"
)

// Server is an echo server serving until its test ends.
type Server struct {
	*server.Server
	Addr string // host:port on 127.0.0.1

	done     chan struct{}
	serveErr error
}

// Start serves cfg on 127.0.0.1:0. When the test ends, it shuts the server
// down (5s grace) and checks that Serve returned ErrServerClosed.
func Start(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Server: server.New(cfg), Addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		s.serveErr = s.Serve(ln)
		close(s.done)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("echo server Shutdown: %v", err)
		}
		if err := s.ServeErr(); !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("echo server Serve = %v, want ErrServerClosed", err)
		}
	})
	return s
}

// ServeErr waits for Serve to return (after Shutdown) and returns its
// error.
func (s *Server) ServeErr() error {
	<-s.done
	return s.serveErr
}
