package tracetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"asynctrace/diagram"
	"asynctrace/jaeger"
	"asynctrace/scenario"
	"asynctrace/tracing"
)

// failures is a testing.TB that collects what the checker reports.
type failures struct {
	testing.TB
	errs []string
}

type fatal struct{}

func (f *failures) Helper() {}
func (f *failures) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *failures) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	panic(fatal{})
}

// check runs Check on spans and returns what it reported.
func check(t *testing.T, spans []diagram.Span, want Want) (errs []string) {
	f := &failures{TB: t}
	defer func() {
		if r := recover(); r != nil && r != (fatal{}) {
			panic(r)
		}
		errs = f.errs
	}()
	Check(f, spans, want)
	return nil
}

// The traces the end-to-end suite kept from Jaeger (diagram/testdata), at
// u = 50 ms.
func load(t *testing.T, sc scenario.Scenario) ([]diagram.Span, Want) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "diagram", "testdata", string(sc)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	traces, err := jaeger.Decode(b)
	if err != nil || len(traces) != 1 {
		t.Fatalf("%s: %v, %d traces", sc, err, len(traces))
	}
	return diagram.FromJaeger(&traces[0]), Want{Scenario: sc, Tasks: 3, Compute: sc.DefaultCompute(), Unit: 50 * time.Millisecond,
		Slack: time.Millisecond, EchoOver: 45 * time.Millisecond}
}

func TestCheckRealTraces(t *testing.T) {
	for _, sc := range scenario.All {
		spans, want := load(t, sc)
		if errs := check(t, spans, want); len(errs) > 0 {
			t.Errorf("%s: %d failures on a trace that keeps the contract:\n%s", sc, len(errs), strings.Join(errs, "\n"))
		}
	}
}

// Each break of the contract is reported.
func TestCheckBroken(t *testing.T) {
	for _, tt := range []struct {
		name   string
		break_ func(spans []diagram.Span)
		want   string
	}{
		{"an echo after its response", func(spans []diagram.Span) {
			for i := range spans {
				if spans[i].Name == tracing.SpanEcho {
					spans[i].End = spans[i].End.Add(10 * time.Millisecond)
					return
				}
			}
		}, "is not within its parent"},
		{"a stage missing", func(spans []diagram.Span) {
			for i := range spans {
				if spans[i].Name == tracing.SpanReady {
					spans[i].Name = "something"
					return
				}
			}
		}, "has no ready span"},
		{"no thread attributes", func(spans []diagram.Span) {
			for i := range spans {
				if spans[i].Name == tracing.SpanCompute {
					delete(spans[i].Attrs, string(tracing.KeyOSThreadID))
					return
				}
			}
		}, "want a positive integer"},
		{"a stage without its goroutine", func(spans []diagram.Span) {
			for i := range spans {
				if spans[i].Name == tracing.SpanConnect {
					delete(spans[i].Attrs, string(tracing.KeyThreadID))
					return
				}
			}
		}, "connect: thread.id = <nil>, want"},
		{"a server stage on another goroutine", func(spans []diagram.Span) {
			for i := range spans {
				if spans[i].Name == tracing.SpanWrite {
					spans[i].Attrs[string(tracing.KeyThreadID)] = int64(1 << 40)
					return
				}
			}
		}, "echo/write: thread.id = 1099511627776, want"},
		{"a lane span without its link", func(spans []diagram.Span) {
			for i := range spans {
				if len(spans[i].Links) > 0 && spans[i].Name != tracing.SpanReady {
					spans[i].Links = nil
					return
				}
			}
		}, "has 0 links"},
		{"a ready span linked to its own task's compute", func(spans []diagram.Span) {
			own := map[string]string{} // a task span's id: its compute's
			for _, s := range spans {
				if s.Name == tracing.SpanCompute {
					own[s.Parent] = s.ID
				}
			}
			for i := range spans {
				if spans[i].Name == tracing.SpanReady && len(spans[i].Links) > 0 {
					spans[i].Links[0] = own[spans[i].Parent]
					return
				}
			}
		}, "not another task's compute"},
		{"no root", func(spans []diagram.Span) {
			for i := range spans {
				if strings.HasPrefix(spans[i].Name, tracing.ScenarioSpanPrefix) {
					spans[i].Name = "x"
				}
			}
		}, "no root span"},
		{"a server span lost", func(spans []diagram.Span) {
			for i := range spans {
				if spans[i].Name == tracing.SpanWrite {
					spans[i].Service = "someone"
					return
				}
			}
		}, "spans from echo-server, want 9"},
	} {
		spans, want := load(t, scenario.SingleThread)
		tt.break_(spans)
		errs := check(t, spans, want)
		if !strings.Contains(strings.Join(errs, "\n"), tt.want) {
			t.Errorf("%s: reported %q, want %q", tt.name, errs, tt.want)
		}
	}
}
