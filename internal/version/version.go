// Package version reports the code version (git commit) recorded with every
// training run and model, so a model can be traced to the code that made it.
package version

import "runtime/debug"

// commit is set at build time with
// -ldflags "-X github.com/prodcat/prodcat/internal/version.commit=<sha>".
var commit string

// Commit returns the git commit the binary was built from, from the linker
// flag or the Go toolchain's VCS stamp, or "unknown".
func Commit() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
	}
	return "unknown"
}
