package wire

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadEcho(t *testing.T) {
	preamble := []byte(Magic + "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n")
	whole := func(payload string) string { return string(preamble) + payload }
	reply := string(Reply{Hold: 400 * time.Millisecond, Wait: 399 * time.Millisecond}.Encode())
	for _, tt := range []struct {
		name, payload, echo string
		onebyte             bool // the echo arrives a byte at a time
		wantPreamble        bool
		wantReply           bool
		wantErr             string
	}{
		{name: "asynctrace's server: its reply, then the payload", payload: "task1", echo: reply + "task1", wantReply: true},
		{name: "its reply in single bytes", payload: "task1", echo: reply + "task1", onebyte: true, wantReply: true},
		{name: "the payload alone", payload: "task1", echo: "task1"},
		{name: "a plain echo server: the whole preamble back", payload: "task1", echo: whole("task1"), wantPreamble: true},
		{name: "the plain echo in single bytes", payload: "task1", echo: whole("task1"), onebyte: true, wantPreamble: true},
		{name: "a label that begins like the preamble, echoed alone", payload: "ASYNCTRACE/2", echo: "ASYNCTRACE/2"},
		{name: "a label that begins like the preamble, behind it", payload: "ASYNCTRACE/2", echo: whole("ASYNCTRACE/2"), wantPreamble: true},
		{name: "a part of the preamble, then the server closed", payload: "task1", echo: whole("task1")[:40], wantErr: "the server's preamble: unexpected EOF"},
		{name: "the preamble, then another payload", payload: "task1", echo: whole("task9"), wantPreamble: true, wantErr: `echoed "task9", want "task1"`},
		{name: "something else", payload: "task1", echo: "hello", wantErr: `echoed "hello", want "task1"`},
		{name: "nothing", payload: "task1", echo: "", wantErr: "EOF"},
	} {
		var r io.Reader = strings.NewReader(tt.echo)
		if tt.onebyte {
			r = iotest.OneByteReader(r)
		}
		got, err := ReadEcho(r, preamble, []byte(tt.payload))
		if got.PlainServer != tt.wantPreamble || got.ReplyOK != tt.wantReply {
			t.Errorf("%s: %+v, want PlainServer %v, ReplyOK %v", tt.name, got, tt.wantPreamble, tt.wantReply)
		}
		if tt.wantReply && (got.Reply.Hold != 400*time.Millisecond || got.Reply.Wait != 399*time.Millisecond) {
			t.Errorf("%s: reply %+v", tt.name, got.Reply)
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
		if rest, _ := io.ReadAll(r); tt.wantErr == "" && len(rest) != 0 {
			t.Errorf("%s: %q left unread", tt.name, rest)
		}
	}
}

// The error of the read itself comes back as it is.
func TestReadEchoReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ReadEcho(iotest.ErrReader(boom), []byte(Magic), []byte("task1"))
	if !errors.Is(err, boom) {
		t.Errorf("ReadEcho = %v, want %v", err, boom)
	}
}
