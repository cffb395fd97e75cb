// Command client runs the article's scenarios against the echo server, one
// trace per scenario, and prints the article's lines and a summary of each
// run: the measured makespan against the expected one, and the trace.
// The command is cmd/internal/clientcmd; -h lists its flags.
package main

import (
	"asynctrace/cmd/internal/cli"
	"asynctrace/cmd/internal/clientcmd"
)

func main() { cli.Main("client", clientcmd.Command) }
