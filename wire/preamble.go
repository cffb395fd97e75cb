// Package wire is the echo server's wire protocol (docs/design.md, "Wire
// protocol"): a traced client sends its W3C trace context in a preamble
// before the payload; a plain client sends only the payload and gets it back
// byte for byte.
//
// A preamble is a magic line, header lines and a blank line, at most
// MaxPreamble bytes:
//
//	ASYNCTRACE/1\r\n
//	traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n
//	baggage: user=alice\r\n
//	\r\n
//	task1
//
// Parse tells a preamble from payload byte by byte, so it never waits for
// bytes a plain client would not send: the first byte that differs from the
// magic line decides.
package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/propagation"
)

// Magic opens every preamble.
const Magic = "ASYNCTRACE/1\r\n"

// MaxPreamble bounds a preamble, magic line and blank line included,
// unless the server is told otherwise (ParseMax).
const MaxPreamble = 8192

const maxHeaders = 16

// ErrTooLarge: no blank line within the bound.
var ErrTooLarge = errors.New("preamble larger than allowed")

// propagator is the format of the preamble's headers, W3C trace context
// and baggage: part of the protocol, not a setting.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Preamble encodes the trace context of ctx.
func Preamble(ctx context.Context) ([]byte, error) {
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return encode(c)
}

func encode(c propagation.MapCarrier) ([]byte, error) {
	keys := c.Keys()
	slices.Sort(keys)
	b := []byte(Magic)
	for _, k := range keys {
		v := c[k]
		if !validKey([]byte(k)) || !printable([]byte(v)) {
			return nil, fmt.Errorf("preamble header %q: not encodable", k)
		}
		b = fmt.Appendf(b, "%s: %s\r\n", k, v)
	}
	b = append(b, "\r\n"...)
	if len(b) > MaxPreamble {
		return nil, ErrTooLarge
	}
	return b, nil
}

// Status is what Parse made of the first bytes of a request.
type Status int

const (
	NeedMore Status = iota // a prefix of a preamble so far: read more, or take it as payload if no more comes
	Plain                  // no preamble: every byte is payload
	Traced                 // a preamble of Result.Len bytes, then payload
	Invalid                // began like a preamble but is not one (Result.Err says why): every byte is payload
)

func (s Status) String() string {
	names := [...]string{"need more", "plain", "traced", "invalid"}
	if s < 0 || int(s) >= len(names) {
		return fmt.Sprintf("Status(%d)", int(s))
	}
	return names[s]
}

// Extract is the context the headers of a Traced result carry.
func (r Result) Extract(ctx context.Context) context.Context {
	return propagator.Extract(ctx, r.Headers)
}

// Result of Parse.
type Result struct {
	Status  Status
	Len     int                    // preamble length, for Traced
	Headers propagation.MapCarrier // for Traced
	Err     error                  // for Invalid
}

// Parse examines the bytes received so far, with MaxPreamble as bound.
func Parse(b []byte) Result { return ParseMax(b, MaxPreamble) }

// ParseMax examines the bytes received so far: a preamble longer than max
// bytes is Invalid, with ErrTooLarge.
func ParseMax(b []byte, max int) Result {
	n := min(len(b), len(Magic))
	if !bytes.Equal(b[:n], []byte(Magic[:n])) {
		return Result{Status: Plain}
	}
	if n < len(Magic) {
		return Result{Status: NeedMore}
	}
	headers := propagation.MapCarrier{}
	for pos, lines := len(Magic), 0; ; lines++ {
		end := bytes.Index(b[pos:], []byte("\r\n"))
		if end < 0 {
			rest := b[pos:]
			switch {
			case !printable(bytes.TrimSuffix(rest, []byte("\r"))):
				return invalid("header line with a control or non-ASCII byte")
			case len(b) >= max:
				return tooLarge(max)
			}
			return Result{Status: NeedMore}
		}
		line := b[pos : pos+end]
		pos += end + 2
		if pos > max {
			return tooLarge(max)
		}
		if len(line) == 0 {
			return Result{Status: Traced, Len: pos, Headers: headers}
		}
		k, v, ok := bytes.Cut(line, []byte(": "))
		switch {
		case !ok:
			return invalid("header line without \": \"")
		case !validKey(k):
			return invalid(fmt.Sprintf("bad header name %q", k))
		case !printable(v):
			return invalid(fmt.Sprintf("header %s: control or non-ASCII byte", k))
		case lines == maxHeaders:
			return invalid(fmt.Sprintf("more than %d headers", maxHeaders))
		}
		headers[string(k)] = string(v)
	}
}

func tooLarge(max int) Result {
	return Result{Status: Invalid, Err: fmt.Errorf("%w: no end within %d bytes", ErrTooLarge, max)}
}

func invalid(why string) Result { return Result{Status: Invalid, Err: errors.New(why)} }

// validKey: a lower-case header name as W3C propagators write them.
func validKey(k []byte) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for _, c := range k {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func printable(v []byte) bool {
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// ReadEcho reads the echo of payload, which was sent after preamble, with
// readFull (which fills its buffer, as io.ReadFull does). asynctrace's
// server echoes the payload alone; a plain echo server (the article's, or
// nc) echoes the preamble too, and then ReadEcho reads past it and says
// so: echoedPreamble. A payload that begins as the preamble does and is
// echoed alone is taken as asynctrace's echo: the payload is read first.
func ReadEcho(readFull func([]byte) error, preamble, payload []byte) (echoedPreamble bool, err error) {
	got := make([]byte, len(payload))
	if err := readFull(got); err != nil {
		return false, err
	}
	if bytes.Equal(got, payload) {
		return false, nil
	}
	// A plain echo server: got is where the preamble begins, and the
	// payload follows it.
	whole := append(append(make([]byte, 0, len(preamble)+len(payload)), preamble...), payload...)
	if !bytes.HasPrefix(whole, got) {
		return false, fmt.Errorf("echoed %q, want %q", got, payload)
	}
	rest := make([]byte, len(whole)-len(got))
	if err := readFull(rest); err != nil {
		return true, fmt.Errorf("the server echoed the preamble, then: %w", err)
	}
	if echo := append(got, rest...); !bytes.Equal(echo, whole) {
		return true, fmt.Errorf("echoed %q, want %q", truncateQ(echo[len(preamble):]), payload)
	}
	return true, nil
}

func truncateQ(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
