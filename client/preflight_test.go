package client

import (
	"errors"
	"strings"
	"testing"
	"time"

	"asynctrace/scenario"
)

// The limit checks, without creating 10,000 threads or connections.
func TestPreflight(t *testing.T) {
	roomy := Limits{MaxThreads: 10000, OpenFiles: 20000, EphemeralPorts: 28232}
	tests := []struct {
		name      string
		cfg       Config
		limits    Limits
		wantErr   []string // in the error; none: no error
		wantNotes string
	}{
		{name: "the article's run", cfg: Config{Scenario: scenario.OSThreads}, limits: roomy},
		{name: "C10k, goroutines", cfg: Config{Scenario: scenario.MultiThread, Tasks: 10000}, limits: roomy},
		{name: "C10k, OS threads", cfg: Config{Scenario: scenario.OSThreads, Tasks: 10000}, limits: roomy,
			wantErr: []string{"needs an OS thread per task", "past 10000 threads", "-max-threads 10064"}},
		{name: "C10k, OS threads, raised", cfg: Config{Scenario: scenario.OSThreads, Tasks: 10000}, limits: Limits{MaxThreads: 12000, OpenFiles: 20000, EphemeralPorts: 28232}},
		{name: "open files", cfg: Config{Scenario: scenario.MultiThread, Tasks: 10000}, limits: Limits{MaxThreads: 10000, OpenFiles: 1024},
			wantErr: []string{"need 10064 open files, the limit is 1024", "ulimit -n 10064"}},
		{name: "ports", cfg: Config{Scenario: scenario.SingleThread, Tasks: 30000}, limits: Limits{MaxThreads: 10000, OpenFiles: 1 << 20, EphemeralPorts: 28232},
			wantErr: []string{"the system has 28232", "ip_local_port_range"}},
		{name: "serial: a note, no limit", cfg: Config{Scenario: scenario.Sync, Tasks: 10000, Unit: time.Second}, limits: Limits{MaxThreads: 10, OpenFiles: 100},
			wantNotes: "expected 38h53m20s"},
	}
	for _, tt := range tests {
		notes, err := Preflight(tt.cfg, tt.limits)
		if len(tt.wantErr) == 0 && err != nil {
			t.Errorf("%s: Preflight = %v, want no error", tt.name, err)
		}
		for _, w := range tt.wantErr {
			if err == nil || !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Preflight = %v, want an ErrLimit saying %q", tt.name, err, w)
			}
		}
		if got := strings.Join(notes, "\n"); !strings.Contains(got, tt.wantNotes) {
			t.Errorf("%s: notes %q, want %q", tt.name, got, tt.wantNotes)
		}
	}
	if l := ReadLimits(); l.MaxThreads != 10000 || l.OpenFiles <= 0 {
		t.Errorf("ReadLimits() = %+v, want Go's default 10000 threads and an open-file limit", l)
	}
}
