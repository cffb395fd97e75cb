// Package compose loads the project's docker-compose.yml the way docker
// compose does (compose-go), for the tests that check it and run its
// commands. It lives in the e2e module so that compose-go's dependencies
// stay out of the project's go.mod.
package compose

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// Path is the compose file at the module root.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docker-compose.yml") // e2e/compose/..
}

// Load loads and validates the compose file at path, with an empty
// environment, as `docker compose config` would.
func Load(ctx context.Context, path string) (*types.Project, error) {
	return LoadEnv(ctx, path, types.Mapping{})
}

// LoadEnv loads the compose file at path with the variables in env set.
func LoadEnv(ctx context.Context, path string, env types.Mapping) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs}},
		Environment: env,
	})
}

// Command is the command line of one service of the project's compose file.
func Command(ctx context.Context, service string) ([]string, error) {
	p, err := Load(ctx, Path())
	if err != nil {
		return nil, err
	}
	s, ok := p.Services[service]
	if !ok || len(s.Command) == 0 {
		return nil, fmt.Errorf("%s: no service %q with a command", Path(), service)
	}
	return s.Command, nil
}

// Flag returns the value of -name in a command line of Go flags written as
// separate words ("-addr", "host:port"), and whether it is there.
func Flag(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "-"+name || a == "--"+name {
			if i+1 < len(args) {
				return args[i+1], true
			}
			return "", true
		}
		for _, p := range []string{"-" + name + "=", "--" + name + "="} {
			if len(a) > len(p) && a[:len(p)] == p {
				return a[len(p):], true
			}
		}
	}
	return "", false
}
