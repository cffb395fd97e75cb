package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"asynctrace/server"
	"asynctrace/wire"
)

// pipeListener hands the server one end of in-memory pipes.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }

// FuzzServe: any bytes in, the payload out. With no delay the request is
// what the server's first read took (at most 512 bytes over a pipe); the
// server echoes its payload, the preamble, if any, taken off and replaced
// by its reply preamble; it never panics, hangs or echoes anything else.
func FuzzServe(f *testing.F) {
	f.Add([]byte("task1"))
	f.Add([]byte(wire.Magic + "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\ntask1"))
	f.Add([]byte(wire.Magic + "x: y\r\n"))
	f.Add([]byte(wire.Magic + "no colon\r\n\r\ntask1"))
	f.Add(bytes.Repeat([]byte("A"), 600))

	ln := &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	srv := server.New(server.Config{Delay: 0, FirstByteTimeout: time.Second})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			f.Errorf("Serve = %v", err)
		}
	})

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return // a client that sends nothing waits out the first-byte timeout
		}
		req := in[:min(len(in), 512)]
		want := req
		r := wire.Parse(req)
		if r.Status == wire.Traced {
			want = req[r.Len:]
		}
		c, s := net.Pipe()
		defer c.Close()
		ln.conns <- s
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			c.Write(in)
		}()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if r.Status == wire.Traced && len(want) > 0 {
			// A traced request's echo follows the server's reply preamble.
			if e, err := wire.ReadEcho(c, req[:r.Len], want); err != nil || !e.ReplyOK {
				t.Fatalf("echo of %q: %+v, %v; want the reply preamble, then %q", in, e, err, want)
			}
		} else if r.Status != wire.Traced {
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("echo of %q = %q, %v; want %q", in, got, err, want)
			}
		}
		c.Close()
		<-wrote
	})
}
