package e2e

import (
	"os"
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

// The contract and the views build on every OS: cmd/diagram, which only
// reads Jaeger and draws, builds for macOS; what reads the kernel (the
// client, through threads and sockstamp) stops there with the promised
// words, not "build constraints exclude all Go files".
func TestBuildsOffLinux(t *testing.T) {
	build := func(pkg string) (string, error) {
		cmd := exec.Command("go", "build", "-o", os.DevNull, pkg)
		cmd.Dir = moduleRoot()
		cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := build("./cmd/diagram"); err != nil {
		t.Errorf("GOOS=darwin go build ./cmd/diagram: %v\n%s", err, out)
	}
	for _, pkg := range []string{"./client", "./sockstamp", "./threads"} {
		out, err := build(pkg)
		if err == nil || !strings.Contains(out, "asynctrace_is_linux_only__run_it_with_docker_compose") || strings.Contains(out, "build constraints exclude") {
			t.Errorf("GOOS=darwin go build %s: %v\n%s\nwant it to stop with the promised words", pkg, err, out)
		}
	}
}
