// Package e2e holds the end-to-end tests: the compose topology run as
// processes on loopback (a real Jaeger built from its module, the server and
// client binaries with the compose file's commands and variables), and
// assertions on the traces exactly as Jaeger's query API returns them. Run
// them with scripts/test, which builds Jaeger and sets ASYNCTRACE_JAEGER.
package e2e
