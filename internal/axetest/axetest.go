// Package axetest checks pages in the browser tests with axe-core, the
// accessibility engine, injected into a chromedp tab.
//
// axe-core is an npm package pinned in this folder's package.json and
// package-lock.json and installed into its node_modules (not committed).
// .ci/run installs it; when it is missing, Source installs it with
// `npm ci` and fails the test clearly when that is not possible. Nothing is
// skipped.
package axetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Dir is the folder of this package, where axe-core is installed.
func Dir(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("axetest: cannot find its own folder")
	}
	return filepath.Dir(file)
}

// Source returns axe-core's script, installing the package first when it
// is not there. Call it once per test binary, before tests run in parallel.
func Source(tb testing.TB) string {
	tb.Helper()
	dir := Dir(tb)
	path := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	if _, err := os.Stat(path); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			tb.Fatalf("axe-core is not installed and `npm ci` in %s failed (install Node.js and npm, then run it there): %v\n%s", dir, err, out)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read axe-core: %v", err)
	}
	return string(b)
}

// Violation is one rule a page breaks, with the elements that break it.
type Violation struct {
	ID          string `json:"id"`
	Impact      string `json:"impact"`
	Description string `json:"description"`
	Nodes       []struct {
		Target []string `json:"target"`
		HTML   string   `json:"html"`
	} `json:"nodes"`
}

func (v Violation) String() string {
	var targets []string
	for _, n := range v.Nodes {
		targets = append(targets, strings.Join(n.Target, " ")+" "+n.HTML)
	}
	return fmt.Sprintf("%s (%s): %s\n    %s", v.ID, v.Impact, v.Description, strings.Join(targets, "\n    "))
}

// Run injects src (Source's) into the tab's page and runs axe on it with
// the WCAG 2.x A and AA rules, returning what it finds.
func Run(ctx context.Context, src string) ([]Violation, error) {
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](src+";true")); err != nil {
		return nil, fmt.Errorf("inject axe-core: %w", err)
	}
	const run = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
		.then(r => JSON.stringify(r.violations))`
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("run axe: %w", err)
	}
	var out []Violation
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("read axe's results: %w", err)
	}
	return out, nil
}
