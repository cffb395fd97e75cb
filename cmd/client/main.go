// Command client runs the article's scenarios against the echo server, one
// trace per scenario, and prints the article's lines and a summary of each
// run: the measured makespan against the expected one, and the trace.
// The command is internal/clientcmd; -h lists its flags.
package main

import (
	"asynctrace/internal/cli"
	"asynctrace/internal/clientcmd"
)

func main() { cli.Main("client", clientcmd.Run) }
