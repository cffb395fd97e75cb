package client

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"asynctrace/scenario"
)

// testdata/tokio-single-thread.jsonl is client_single's record of a run
// at u = 50ms against asynctrace's server (peers/tokio, --record).
func readRecordFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/tokio-single-thread.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadPeerRecord(t *testing.T) {
	run, err := readPeerRecord(strings.NewReader(readRecordFile(t)))
	if err != nil {
		t.Fatalf("readPeerRecord: %v", err)
	}
	if got, want := len(run.tasks), 3; got != want {
		t.Fatalf("%d tasks, want %d", got, want)
	}
	if run.unit != 50*time.Millisecond || run.threads != 1 || run.program != "client_single" || run.runtimeVersion == "" {
		t.Errorf("run = %+v", run)
	}
	for i, task := range run.tasks {
		if len(task.stages) != len(scenario.Stages) || len(task.events) != 4 || task.err != "" {
			t.Errorf("task%d: %d stages, %d events, error %q; want 4, 4, none", i+1, len(task.stages), len(task.events), task.err)
		}
		if task.stages[1].span.IsValid() == false || task.arrival != "kernel" || task.hold <= 0 {
			t.Errorf("task%d: response span %v, arrival %q, hold %v", i+1, task.stages[1].span, task.arrival, task.hold)
		}
	}
}

// endBeforeStart makes task1's connect end a nanosecond before it starts.
func endBeforeStart(record string) string {
	re := regexp.MustCompile(`"task":1,"stage":"connect","start_ns":(\d+),"end_ns":\d+`)
	return re.ReplaceAllStringFunc(record, func(m string) string {
		start, _ := strconv.ParseInt(re.FindStringSubmatch(m)[1], 10, 64)
		return fmt.Sprintf(`"task":1,"stage":"connect","start_ns":%d,"end_ns":%d`, start, start-1)
	})
}

// Each broken record is refused with what is wrong, never read as far as
// it goes.
func TestReadPeerRecordRefuses(t *testing.T) {
	good := readRecordFile(t)
	lines := strings.Split(strings.TrimSpace(good), "\n")
	without := func(match string) string {
		var out []string
		for _, l := range lines {
			if !strings.Contains(l, match) {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	swap := func(a, b string) string {
		out := append([]string(nil), lines...)
		var i, j int
		for k, l := range out {
			if strings.Contains(l, a) {
				i = k
			}
			if strings.Contains(l, b) {
				j = k
			}
		}
		out[i], out[j] = out[j], out[i]
		return strings.Join(out, "\n")
	}
	for _, tt := range []struct {
		name, give, want string
	}{
		{"empty", "", "empty record"},
		{"not JSON", "{\"record\":\"run\"\n", "line 1"},
		{"no run first", strings.Join(lines[1:], "\n"), "begins with \"event\""},
		{"truncated", strings.Join(lines[:len(lines)-1], "\n"), "truncated: no end record"},
		{"truncated mid-line", good[:len(good)-20], "line"},
		{"a task never ended", without(`"record":"task","task":2`), "truncated: task2 has no end"},
		{"stages out of order", swap(`"task":1,"stage":"ready"`, `"task":1,"stage":"compute"`), "out of order"},
		{"a stage missing", without(`"task":3,"stage":"connect"`), "out of order"},
		{"task out of range", strings.Replace(good, `"task":3,"stage":"compute"`, `"task":4,"stage":"compute"`, 1), "task 4 of a 3-task run"},
		{"unknown stage", strings.Replace(good, `"stage":"compute"`, `"stage":"think"`, 1), "\"think\""},
		{"bad span id", strings.Replace(good, `"span_id":"`, `"span_id":"zz`, 1), "response span id"},
		{"another version", strings.Replace(good, `"version":1`, `"version":2`, 1), "record version 2"},
		{"after the end", good + `{"record":"event","task":1,"event":"read","at_ns":1,"thread":1}` + "\n", "after the end record"},
		{"ends before it starts", endBeforeStart(good), "ends before it starts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readPeerRecord(strings.NewReader(tt.give))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("readPeerRecord = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
