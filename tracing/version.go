package tracing

import "runtime/debug"

// Version is the module version the binary was built from, for the
// service.version resource attribute: a tag, a pseudo-version, or "devel".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
