// Package sockstamp reads the kernel's timestamps of a TCP connection's
// data: when bytes arrived for the reader (SO_TIMESTAMPNS, handed back by
// recvmsg) and when bytes sent left for the device (SO_TIMESTAMPING, read
// from the socket's error queue). On loopback and veth the transmit stamp
// of a packet comes before its receive stamp, so a span that ends at the
// one lies inside a span that ends at the other (docs/design.md,
// "Decisions").
package sockstamp

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var timespecSize = int(unsafe.Sizeof(unix.Timespec{}))

// StampArrivals is a net.Dialer's Control function that asks the kernel to
// timestamp the data that will arrive on the connection: set before the
// connection exists. Where no other socket of the system asked before,
// the kernel turns timestamping on a moment later (a deferred static key):
// data arriving at once may come unstamped, and Reader says so
// (Reader.Stamped).
func StampArrivals(_, _ string, rc syscall.RawConn) error {
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); cerr != nil {
		return cerr
	}
	return err
}

// StampSends asks the kernel to timestamp what conn sends from now on, in
// software, as it leaves for the device.
func StampSends(conn net.Conn) bool {
	return setsockopt(conn, unix.SO_TIMESTAMPING,
		unix.SOF_TIMESTAMPING_TX_SOFTWARE|unix.SOF_TIMESTAMPING_SOFTWARE|unix.SOF_TIMESTAMPING_OPT_TSONLY)
}

// UnstampSends stops what StampSends started.
func UnstampSends(conn net.Conn) { setsockopt(conn, unix.SO_TIMESTAMPING, 0) }

func setsockopt(conn net.Conn, opt, value int) bool {
	rc := rawConn(conn)
	if rc == nil {
		return false
	}
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, value)
	}); cerr != nil {
		return false
	}
	return err == nil
}

// Reader reads a connection as io.Reader does, each read one recvmsg,
// parking the goroutine in the netpoller between reads (deadlines apply),
// and keeps the kernel's receive timestamp of the last bytes read.
type Reader struct {
	conn net.Conn
	rc   syscall.RawConn // nil: no timestamps, plain reads
	oob  []byte
	// Arrived is when the last bytes read arrived, by the kernel's
	// receive timestamp; Stamped is false where the kernel gave none.
	Arrived time.Time
	Stamped bool
}

// NewReader reads conn.
func NewReader(conn net.Conn) *Reader {
	return &Reader{conn: conn, rc: rawConn(conn), oob: make([]byte, unix.CmsgSpace(timespecSize))}
}

// Read is one read, io.Reader's way: io.EOF at the connection's end.
func (r *Reader) Read(p []byte) (int, error) {
	if r.rc == nil {
		return r.conn.Read(p)
	}
	var n, oobn int
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, r.oob, 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, err
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	if t, stamped := stamp(r.oob[:oobn], unix.SO_TIMESTAMPNS); stamped {
		r.Arrived, r.Stamped = t, true
	}
	return n, nil
}

// LastSent reads every transmit timestamp queued on conn's error queue and
// returns the latest. The kernel queues it as it sends, so on loopback and
// veth it is there once write has returned.
func LastSent(conn net.Conn) (time.Time, bool) {
	rc := rawConn(conn)
	if rc == nil {
		return time.Time{}, false
	}
	var last time.Time
	oob := make([]byte, 256)
	rc.Control(func(fd uintptr) {
		for {
			_, oobn, _, _, err := unix.Recvmsg(int(fd), nil, oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
			if err != nil {
				return // EAGAIN: no more
			}
			// The first of the three timespecs is the software stamp.
			if t, ok := stamp(oob[:oobn], unix.SO_TIMESTAMPING); ok && t.After(last) {
				last = t
			}
		}
	})
	return last, !last.IsZero()
}

// stamp finds the timestamp control message of type typ.
func stamp(oob []byte, typ int32) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == typ && len(m.Data) >= timespecSize {
			ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Unix()), true
		}
	}
	return time.Time{}, false
}

func rawConn(conn net.Conn) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// SmoothedRTT is the kernel's smoothed round-trip time of a TCP
// connection (TCP_INFO's tcpi_rtt): the network's round trip as TCP
// measured it, from the handshake and the acknowledgements since; ok is
// false where it gives none.
func SmoothedRTT(conn net.Conn) (rtt time.Duration, ok bool) {
	rc := rawConn(conn)
	if rc == nil {
		return 0, false
	}
	rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err == nil {
			rtt, ok = time.Duration(info.Rtt)*time.Microsecond, true
		}
	})
	return rtt, ok
}
