// Command gen writes the guide's fingerprint (templates/guide_fingerprint.txt)
// from the guide's text, when the guide can be found: in the directory
// NUDGE_GUIDE_DIR names, else in shared/guide/ beside the checkout (the
// directory above the module root). Without the guide it leaves the
// checked-in fingerprint as it is and says so.
//
// Run it with `go generate ./templates`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nudgehq/nudge/templates/internal/guideprint"
)

func main() {
	out := flag.String("out", "guide_fingerprint.txt", "the fingerprint file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "guideprint:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	dir, err := guideDir()
	if err != nil {
		return err
	}
	if dir == "" {
		fmt.Fprintf(os.Stderr, "guideprint: no guide found (set NUDGE_GUIDE_DIR, or put shared/guide/ beside the checkout); %s left as it is\n", out)
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read the guide: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".txt") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return fmt.Errorf("%s holds no .txt file", dir)
	}
	var texts []string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("read the guide: %w", err)
		}
		texts = append(texts, string(b))
	}
	fp := guideprint.FromText(texts...)
	if fp.Len() == 0 {
		return fmt.Errorf("the guide in %s has fewer than %d words", dir, guideprint.RunLen)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("write the fingerprint: %w", err)
	}
	if _, err := fp.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write the fingerprint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write the fingerprint: %w", err)
	}
	fmt.Fprintf(os.Stderr, "guideprint: %d runs of %s written to %s\n", fp.Len(), dir, out)
	return nil
}

// guideDir returns the guide's directory, or "" when there is none.
func guideDir() (string, error) {
	if d := strings.TrimSpace(os.Getenv("NUDGE_GUIDE_DIR")); d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return "", fmt.Errorf("NUDGE_GUIDE_DIR=%s is not a directory", d)
		}
		return d, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	d := filepath.Join(filepath.Dir(root), "shared", "guide")
	st, err := os.Stat(d)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("look for the guide: %w", err)
	case !st.IsDir():
		return "", nil
	}
	return d, nil
}

// moduleRoot is the nearest directory, from the working directory up, that
// holds go.mod.
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("find the module root: no go.mod above the working directory")
		}
		d = parent
	}
}
