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
	"io"
	"slices"
	"strconv"
	"time"

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

// Reply is what asynctrace's server tells a traced client before its
// echo, in a preamble of its own: how long it held the request, on its own
// clock. With it the client tells the network's round trip (its response
// less Wait) from the server's hold, across hosts whose clocks differ.
type Reply struct {
	Hold time.Duration // from the accept to the reply: the server's delay
	Wait time.Duration // from the request's first byte to the reply
}

// Header names of a Reply.
const (
	headerHold = "asynctrace-hold-ns"
	headerWait = "asynctrace-wait-ns"
)

// Encode is the reply's preamble.
func (r Reply) Encode() []byte {
	b, _ := encode(propagation.MapCarrier{
		headerHold: strconv.FormatInt(int64(r.Hold), 10),
		headerWait: strconv.FormatInt(int64(r.Wait), 10),
	})
	return b
}

// parseReply reads a Reply from a preamble's headers.
func parseReply(h propagation.MapCarrier) (Reply, bool) {
	hold, err1 := strconv.ParseInt(h[headerHold], 10, 64)
	wait, err2 := strconv.ParseInt(h[headerWait], 10, 64)
	if err1 != nil || err2 != nil || hold < 0 || wait < 0 {
		return Reply{}, false
	}
	return Reply{Hold: time.Duration(hold), Wait: time.Duration(wait)}, true
}

// Echo is what came back for a traced request.
type Echo struct {
	// PlainServer: the server echoed the request's preamble too, as a
	// plain echo server (the article's, nc) does; no Reply, no server spans.
	PlainServer bool
	// Reply is asynctrace's server's account of its hold; ok false where
	// the server sent none.
	Reply   Reply
	ReplyOK bool
}

// ReadEcho reads the echo of payload, which was sent after preamble, from
// r. asynctrace's server sends a Reply preamble, then the payload; a plain
// echo server sends the request's preamble back, then the payload:
// ReadEcho reads past either, and says which it was. A payload echoed
// alone is taken as it is (where the payload is itself the beginning of a
// preamble's magic line, it cannot tell, and takes it alone). It reads
// what comes, a read at a time: nothing comes after the echo until the
// client closes.
func ReadEcho(r io.Reader, preamble, payload []byte) (Echo, error) {
	var e Echo
	buf := make([]byte, 0, len(preamble)+len(payload))
	// fill reads until buf holds n bytes.
	fill := func(n int) error {
		for len(buf) < n {
			if len(buf) == cap(buf) {
				buf = slices.Grow(buf, max(256, n-len(buf)))
			}
			m, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+m]
			if err != nil && len(buf) < n {
				if errors.Is(err, io.EOF) && len(buf) > 0 {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		return nil
	}
	if err := fill(min(len(payload), len(Magic))); err != nil {
		return e, err
	}
	at := 0 // where the payload begins
	if k := min(len(buf), len(Magic)); bytes.Equal(buf[:k], []byte(Magic[:k])) && !(len(payload) < len(Magic) && bytes.Equal(buf, payload)) {
		for {
			res := ParseMax(buf, MaxPreamble)
			if res.Status == Traced {
				if bytes.Equal(buf[:res.Len], preamble) {
					e.PlainServer = true
				} else {
					e.Reply, e.ReplyOK = parseReply(res.Headers)
				}
				at = res.Len
				break
			}
			if res.Status != NeedMore {
				return e, fmt.Errorf("echoed %q, want %q", truncateQ(buf), payload)
			}
			if err := fill(len(buf) + 1); err != nil {
				return e, fmt.Errorf("the server's preamble: %w", err)
			}
		}
	}
	if err := fill(at + len(payload)); err != nil {
		if e.PlainServer {
			return e, fmt.Errorf("the server echoed the preamble, then: %w", err)
		}
		return e, err
	}
	if echo := buf[at:]; !bytes.Equal(echo, payload) {
		return e, fmt.Errorf("echoed %q, want %q", truncateQ(echo), payload)
	}
	return e, nil
}

func truncateQ(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
