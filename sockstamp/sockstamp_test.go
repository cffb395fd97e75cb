package sockstamp

import (
	"io"
	"net"
	"testing"
	"time"
)

// On loopback: the transmit stamp of the reply lies between the sender's
// clock before and after its write, and the receive stamp after the
// transmit stamp and before the reader's read returned: the order the
// spans rely on. The kernel turns receive timestamps on for the whole
// system a moment after the first socket asks (a deferred static key), so
// the first exchanges of a process may come unstamped: the test repeats
// the exchange, with a deadline, until one is.
func TestStampsOnLoopback(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 1; ; attempt++ {
		if exchangeStamped(t) {
			t.Logf("stamped at attempt %d", attempt)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no receive timestamp in %d exchanges over 10s", attempt)
		}
	}
}

// exchangeStamped sends task1 over loopback, checks the order of the
// stamps if there are both, and says whether there were.
func exchangeStamped(t *testing.T) bool {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type sent struct {
		before, stamp, after time.Time
		ok                   bool
		err                  error
	}
	done := make(chan sent, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- sent{err: err}
			return
		}
		defer c.Close()
		var s sent
		if !StampSends(c) {
			s.err = net.UnknownNetworkError("SO_TIMESTAMPING refused")
		}
		s.before = time.Now()
		_, err = c.Write([]byte("task1"))
		s.after = time.Now()
		s.stamp, s.ok = LastSent(c)
		if s.err == nil {
			s.err = err
		}
		done <- s
	}()

	d := net.Dialer{Control: StampArrivals}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 5)
	arrived, ok, err := readFull(c, buf)
	read := time.Now()
	if err != nil || string(buf) != "task1" {
		t.Fatalf("ReadFull = %q, %v", buf, err)
	}
	s := <-done
	if s.err != nil || !s.ok {
		t.Fatalf("sender: stamped %v, %v", s.ok, s.err)
	}
	if s.stamp.Before(s.before) || s.stamp.After(s.after) {
		t.Errorf("transmit stamp %v not within the write [%v, %v]", s.stamp, s.before, s.after)
	}
	if !ok {
		return false
	}
	if !arrived.After(s.stamp) || arrived.After(read) {
		t.Errorf("receive stamp %v, want after the transmit stamp %v and before the read returned %v", arrived, s.stamp, read)
	}
	return true
}

// readFull fills buf through a Reader, as the client's reads do, and
// says when its last bytes arrived.
func readFull(conn net.Conn, buf []byte) (arrived time.Time, ok bool, err error) {
	r := NewReader(conn)
	_, err = io.ReadFull(r, buf)
	return r.Arrived, r.Stamped, err
}

// EOF before the buffer is full is an error, as with io.ReadFull.
func TestReadFullShort(t *testing.T) {
	a, b := net.Pipe() // not a syscall.Conn: the plain path
	go func() { a.Write([]byte("ta")); a.Close() }()
	if _, ok, err := readFull(b, make([]byte, 5)); err == nil || ok {
		t.Errorf("ReadFull of 2 bytes into 5 = stamped %v, %v; want an error", ok, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("ta"))
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := readFull(c, make([]byte, 5)); err == nil || err.Error() != "unexpected EOF" {
		t.Errorf("ReadFull of 2 bytes then EOF = %v, want unexpected EOF", err)
	}
}
