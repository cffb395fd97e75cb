package client

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// resetPeakRSS makes the kernel's peak RSS of this process (VmHWM) start
// again from now (clear_refs, Linux 4.0+).
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// readRSS reads this process's resident memory now, and its peak since the
// last reset, in bytes; zeros where /proc does not say.
func readRSS() (rss, peak int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(f[0]) {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}
