package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// layerOf is the layer of a package of the project (docs/design.md,
// "Packages"): imports go from a higher layer to the same or a lower
// one, never back up. Test helpers (internal/) are for tests only.
func layerOf(pkg string) (int, string) {
	p := strings.TrimPrefix(pkg, "asynctrace/")
	switch {
	case p == "scenario":
		return 0, "model"
	case p == "client", p == "server", p == "tracing", p == "threads", p == "wire", p == "sockstamp":
		return 1, "mechanisms"
	case p == "web", p == "diagram", p == "jaeger":
		return 2, "views and tools"
	case strings.HasPrefix(p, "cmd/"):
		return 3, "commands"
	case strings.HasPrefix(p, "internal/"):
		return 4, "test helpers"
	}
	return -1, ""
}

// The project's packages import only down the layers: go list, on the
// code that is built (not the tests).
func TestLayers(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = moduleRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		from, fromName := layerOf(f[0])
		if from < 0 {
			t.Errorf("%s: in no layer of docs/design.md", f[0])
			continue
		}
		pkgs++
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, "asynctrace/") {
				continue
			}
			to, toName := layerOf(imp)
			switch {
			case toName == "test helpers":
				t.Errorf("%s imports the test helper %s", f[0], imp)
			case to > from:
				t.Errorf("%s (%s) imports %s (%s): back up the layers", f[0], fromName, imp, toName)
			}
		}
	}
	if pkgs < 10 {
		t.Errorf("go list gave %d packages:\n%s", pkgs, out)
	}
}
