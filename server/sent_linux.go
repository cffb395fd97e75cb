package server

import (
	"net"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The write span ends when the reply left: the kernel's software transmit
// timestamp of its last byte (SO_TIMESTAMPING), taken as the packet is
// handed to the device, before the receiver can timestamp its arrival. The
// clock read after write returns would come later than the client's
// arrival timestamp (docs/design.md, "Measured facts"), and the echo span
// would end after its parent.

const txFlags = unix.SOF_TIMESTAMPING_TX_SOFTWARE | unix.SOF_TIMESTAMPING_SOFTWARE | unix.SOF_TIMESTAMPING_OPT_TSONLY

// stampSends asks the kernel to timestamp what conn sends from now on.
func stampSends(conn net.Conn) bool {
	rc := rawConn(conn)
	if rc == nil {
		return false
	}
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPING, txFlags)
	}); cerr != nil {
		return false
	}
	return err == nil
}

// lastSent reads every transmit timestamp queued on conn's error queue and
// returns the latest. The kernel queues it as it sends, so on loopback and
// veth it is there once write has returned.
func lastSent(conn net.Conn) (time.Time, bool) {
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
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return
			}
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPING && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
					ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0])) // [0] is the software stamp
					if t := time.Unix(ts.Unix()); t.After(last) {
						last = t
					}
				}
			}
		}
	})
	return last, !last.IsZero()
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
