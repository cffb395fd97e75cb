package client

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The response stage ends when the echo reached the client's socket, not
// when the goroutine read it: Linux timestamps received data for the
// reader (SO_TIMESTAMPNS) and hands the timestamp back with recvmsg. Under
// GOMAXPROCS=1 the two are seconds apart; the gap is the ready stage.

// stampArrivals asks the kernel to timestamp data arriving on conn. Call
// it before the data can arrive.
func stampArrivals(conn net.Conn) bool {
	rc := rawConn(conn)
	if rc == nil {
		return false
	}
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); cerr != nil {
		return false
	}
	return err == nil
}

// readArrived fills buf as io.ReadFull would, parking the goroutine in the
// netpoller between reads (deadlines apply), and returns when its last
// bytes arrived by the kernel's receive timestamp; ok is false where the
// kernel gave none.
func readArrived(conn net.Conn, buf []byte) (arrived time.Time, ok bool, err error) {
	rc := rawConn(conn)
	if rc == nil {
		_, err = io.ReadFull(conn, buf)
		return time.Time{}, false, err
	}
	oob := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))
	got := 0
	for got < len(buf) {
		var n, oobn int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf[got:], oob, 0)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return arrived, ok, err
		}
		if n == 0 {
			if got == 0 {
				return arrived, ok, io.EOF
			}
			return arrived, ok, io.ErrUnexpectedEOF
		}
		got += n
		if t, stamped := rxTimestamp(oob[:oobn]); stamped {
			arrived, ok = t, true
		}
	}
	return arrived, ok, nil
}

func rxTimestamp(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
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
