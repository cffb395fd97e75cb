package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"asynctrace/internal/cli"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		give    string
		wantErr string // in the usage error; "" for none
	}{
		{give: ""},
		{give: "-last 5 -verify"},
		{give: "-trace 4bf92f3577b34da6a3ce929d0e0e4736 -verify -expect multi-thread -procs 3"},
		{give: "-trace nothex", wantErr: "32 hexadecimal digits"},
		{give: "-expect multi-thread", wantErr: "-expect goes with -verify"},
		{give: "-verify -procs 3", wantErr: "go with -expect"},
		{give: "-verify -expect async", wantErr: "unknown scenario"},
		{give: "-last 0", wantErr: "-last"},
		{give: "-color sometimes", wantErr: "-color"},
		{give: "-tolerance -1", wantErr: "-tolerance"},
	}
	for _, tt := range tests {
		_, err := parseFlags(strings.Fields(tt.give), io.Discard)
		var u cli.UsageError
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parseFlags(%q) = %v", tt.give, err)
		case tt.wantErr != "" && (!errors.As(err, &u) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseFlags(%q) = %v, want a usage error saying %q", tt.give, err, tt.wantErr)
		}
	}
}
