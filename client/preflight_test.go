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
			wantErr: []string{"needs an OS thread per task", "10064 with the runtime's own", "past 10000 threads"}},
		{name: "C10k, OS threads, raised", cfg: Config{Scenario: scenario.OSThreads, Tasks: 10000}, limits: Limits{MaxThreads: 12000, OpenFiles: 20000, EphemeralPorts: 28232}},
		{name: "open files", cfg: Config{Scenario: scenario.MultiThread, Tasks: 10000}, limits: Limits{MaxThreads: 10000, OpenFiles: 1024},
			wantErr: []string{"need 10064 open files, the limit is 1024"}},
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
		if err != nil && strings.Contains(err.Error(), " -") {
			t.Errorf("%s: Preflight = %q: names a flag; what to do is the commands' to say", tt.name, err)
		}
		if les := LimitErrors(err); len(tt.wantErr) > 0 && (len(les) != 1 || les[0].Need <= les[0].Have) {
			t.Errorf("%s: LimitErrors = %+v", tt.name, les)
		}
		if got := strings.Join(notes, "\n"); !strings.Contains(got, tt.wantNotes) {
			t.Errorf("%s: notes %q, want %q", tt.name, got, tt.wantNotes)
		}
	}
	if l := ReadLimits(); l.MaxThreads != 10000 || l.OpenFiles <= 0 {
		t.Errorf("ReadLimits() = %+v, want Go's default 10000 threads and an open-file limit", l)
	}
}
