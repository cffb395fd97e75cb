package wire

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestParse(t *testing.T) {
	valid := Magic + "traceparent: " + traceparent + "\r\n\r\n"
	tests := []struct {
		name     string
		give     string
		want     Status
		wantLen  int
		wantErr  error
		wantHead string // traceparent header, for Traced
	}{
		{name: "plain label", give: "task1", want: Plain},
		{name: "empty", give: "", want: NeedMore},
		{name: "one byte of the magic", give: "A", want: NeedMore},
		{name: "begins like the magic", give: "ASYNCfoo", want: Plain},
		{name: "magic without CR", give: "ASYNCTRACE/1\nx", want: Plain},
		{name: "magic line only", give: Magic, want: NeedMore},
		{name: "half a header", give: Magic + "tracepar", want: NeedMore},
		{name: "preamble", give: valid, want: Traced, wantLen: len(valid), wantHead: traceparent},
		{name: "preamble and payload", give: valid + "task1", want: Traced, wantLen: len(valid), wantHead: traceparent},
		{name: "no headers", give: Magic + "\r\ntask1", want: Traced, wantLen: len(Magic) + 2},
		{name: "line without colon", give: Magic + "hello\r\n\r\n", want: Invalid},
		{name: "upper-case name", give: Magic + "Traceparent: x\r\n\r\n", want: Invalid},
		{name: "control byte in value", give: Magic + "traceparent: a\x00b\r\n\r\n", want: Invalid},
		{name: "binary after the magic", give: Magic + "\xff\xfe", want: Invalid},
		{name: "oversized", give: Magic + "baggage: " + strings.Repeat("a", MaxPreamble), want: Invalid, wantErr: ErrTooLarge},
		{name: "oversized with end", give: Magic + "baggage: " + strings.Repeat("a", MaxPreamble) + "\r\n\r\n", want: Invalid, wantErr: ErrTooLarge},
		{name: "too many headers", give: Magic + strings.Repeat("x: y\r\n", maxHeaders+1) + "\r\n", want: Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse([]byte(tt.give))
			if got.Status != tt.want {
				t.Fatalf("Parse(%.40q).Status = %v (%v), want %v", tt.give, got.Status, got.Err, tt.want)
			}
			if got.Len != tt.wantLen {
				t.Errorf("Parse(%.40q).Len = %d, want %d", tt.give, got.Len, tt.wantLen)
			}
			if tt.wantErr != nil && !errors.Is(got.Err, tt.wantErr) {
				t.Errorf("Parse(%.40q).Err = %v, want %v", tt.give, got.Err, tt.wantErr)
			}
			if got.Status == Invalid && got.Err == nil {
				t.Errorf("Parse(%.40q): Invalid without a reason", tt.give)
			}
			if h := got.Headers.Get("traceparent"); h != tt.wantHead {
				t.Errorf("Parse(%.40q) traceparent = %q, want %q", tt.give, h, tt.wantHead)
			}
		})
	}
}

// Every prefix of a preamble is NeedMore: a traced client's request may
// arrive in pieces.
func TestParsePrefixes(t *testing.T) {
	p := Magic + "traceparent: " + traceparent + "\r\nbaggage: k=v\r\n\r\n"
	for i := range len(p) {
		if got := Parse([]byte(p[:i])); got.Status != NeedMore {
			t.Fatalf("Parse(%q).Status = %v, want %v", p[:i], got.Status, NeedMore)
		}
	}
}

func TestPreambleRoundTrip(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3},
		SpanID:     trace.SpanID{4, 5, 6},
		TraceFlags: trace.FlagsSampled,
	})
	m, err := baggage.NewMember("user", "alice")
	if err != nil {
		t.Fatal(err)
	}
	b, err := baggage.New(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), sc), b)

	pre, err := Preamble(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := Parse(append(pre, "task1"...))
	if got.Status != Traced || got.Len != len(pre) {
		t.Fatalf("Parse(Preamble) = %v, %d bytes, want %v, %d bytes", got.Status, got.Len, Traced, len(pre))
	}
	out := got.Extract(context.Background())
	if gotSC := trace.SpanContextFromContext(out); !gotSC.Equal(sc.WithRemote(true)) {
		t.Errorf("extracted %v, want %v", gotSC, sc)
	}
	if v := baggage.FromContext(out).Member("user").Value(); v != "alice" {
		t.Errorf("baggage user = %q, want alice", v)
	}
}

func TestPreambleNotEncodable(t *testing.T) {
	tests := []struct {
		key, value string
		wantErr    error
	}{
		{key: "baggage", value: strings.Repeat("a", MaxPreamble), wantErr: ErrTooLarge},
		{key: "baggage", value: "a\r\nb"},
		{key: "Bad Key", value: "v"},
	}
	for _, tt := range tests {
		_, err := encode(propagation.MapCarrier{tt.key: tt.value})
		if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("encode of header %q: %.40q: error = %v, want %v", tt.key, tt.value, err, cmp(tt.wantErr))
		}
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{NeedMore: "need more", Invalid: "invalid", Status(9): "Status(9)", Status(-1): "Status(-1)"} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func cmp(err error) any {
	if err == nil {
		return "an error"
	}
	return err
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("task1"))
	f.Add([]byte(Magic + "traceparent: " + traceparent + "\r\n\r\ntask1"))
	f.Add([]byte(Magic + "x: y\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Parse(b)
		switch r.Status {
		case Traced:
			if r.Len < len(Magic)+2 || r.Len > len(b) || r.Len > MaxPreamble {
				t.Fatalf("Parse(%q).Len = %d out of range", b, r.Len)
			}
			if again := Parse(b[:r.Len]); again.Status != Traced || again.Len != r.Len {
				t.Fatalf("Parse of the preamble alone = %v, %d", again.Status, again.Len)
			}
		case Invalid:
			if r.Err == nil {
				t.Fatalf("Parse(%q): Invalid without a reason", b)
			}
		}
	})
}
