package zones

import (
	"sort"
	"testing"
	"time"
)

func TestEveryZoneLoadsAndTheListIsSorted(t *testing.T) {
	n := Names()
	if len(n) < 300 || n[0] != "UTC" {
		t.Fatalf("got %d zones starting with %q; want hundreds, UTC first", len(n), n[0])
	}
	if !sort.StringsAreSorted(n[1:]) {
		t.Error("zones after UTC are not sorted")
	}
	for _, z := range n {
		if _, err := time.LoadLocation(z); err != nil {
			t.Errorf("zone %q does not load: %v", z, err)
		}
	}
	n[0] = "changed"
	if Names()[0] != "UTC" {
		t.Error("Names shares its backing array with callers")
	}
}
