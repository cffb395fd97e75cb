package web

import (
	"context"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"asynctrace/scenario"
	"asynctrace/server"
)

// Servers are the page's own echo servers, one per unit a run asked for
// (a server holds every request 8u), on 127.0.0.1, the most recently used
// few kept.
type Servers struct {
	TracerProvider trace.TracerProvider // the servers' spans; nil: none
	Keep           int                  // servers kept; default 4

	mu       sync.Mutex
	list     []*echoServer // least recently used first
	stopping sync.WaitGroup
}

type echoServer struct {
	unit time.Duration
	addr string
	srv  *server.Server
	done chan struct{}
}

// Addr returns the address of a server at unit, starting one if need be.
func (s *Servers) Addr(ctx context.Context, unit time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.list {
		if e.unit == unit {
			s.list = append(append(s.list[:i:i], s.list[i+1:]...), e)
			return e.addr, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	e := &echoServer{unit: unit, addr: ln.Addr().String(), done: make(chan struct{}),
		srv: server.New(server.Config{Delay: scenario.ServerDelay(unit), TracerProvider: s.TracerProvider})}
	go func() {
		defer close(e.done)
		e.srv.Serve(ln)
	}()
	s.list = append(s.list, e)
	keep := s.Keep
	if keep <= 0 {
		keep = 4
	}
	for len(s.list) > keep {
		old := s.list[0]
		s.list = s.list[1:]
		// Idle: runs go one at a time, and this one is not the run's.
		s.stopping.Go(func() { old.stop(context.Background()) })
	}
	return e.addr, nil
}

func (e *echoServer) stop(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	e.srv.Shutdown(ctx)
	<-e.done
}

// Close stops every server.
func (s *Servers) Close(ctx context.Context) {
	s.mu.Lock()
	list := s.list
	s.list = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range list {
		wg.Go(func() { e.stop(ctx) })
	}
	wg.Wait()
	s.stopping.Wait()
}
