package signuplimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/signuplimit"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBSignupLimit) }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (*signuplimit.Limits, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	return signuplimit.New(redistest.Client(t, redistest.DBSignupLimit), redistest.Prefix(t), clk.now), clk
}

// A number gets three confirmation texts in any day and five in any 30
// days, however many doors ask.
func TestANumbersConfirmationTextsAreBudgetedByDayAndMonth(t *testing.T) {
	l, clk := setup(t)
	ctx := context.Background()
	const number = "+447400123456"
	take := func() bool {
		t.Helper()
		ok, err := l.AllowNumber(ctx, number)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := range signuplimit.NumberPerDay {
		if !take() {
			t.Fatalf("text %d of the day refused", i+1)
		}
	}
	if take() {
		t.Fatal("a fourth text in one day allowed")
	}
	if ok, _ := l.AllowNumber(ctx, "+447400999999"); !ok {
		t.Fatal("another number shares the budget")
	}
	clk.t = clk.t.Add(23 * time.Hour)
	if take() {
		t.Fatal("allowed again before a day has passed")
	}
	clk.t = clk.t.Add(2 * time.Hour)
	if first, second := take(), take(); !first || !second {
		t.Fatal("the next day's texts refused")
	}
	if take() {
		t.Fatal("a sixth text within 30 days allowed")
	}
	clk.t = clk.t.Add(10 * 24 * time.Hour)
	if take() {
		t.Fatal("the month's budget came back early")
	}
	clk.t = time.Date(2026, 12, 31, 12, 0, 1, 0, time.UTC) // 30 days after the first three
	if !take() {
		t.Fatal("the budget did not come back after 30 days")
	}
}

// One host behind an IPv6 /64 is one client: it cannot get a fresh budget by
// changing the low bits of its address.
func TestIPv6ClientsShareTheBudgetOfTheirSlash64(t *testing.T) {
	l, _ := setup(t)
	ctx := context.Background()
	for i := range signuplimit.IPBurst {
		wait, err := l.AllowIP(ctx, "2001:db8:1:2::"+string(rune('a'+i)))
		if err != nil || wait != 0 {
			t.Fatalf("signup %d from the /64: wait %v, %v", i+1, wait, err)
		}
	}
	if wait, _ := l.AllowIP(ctx, "2001:db8:1:2:ffff:ffff:ffff:ffff"); wait == 0 {
		t.Fatal("another address of the same /64 got a fresh budget")
	}
	if wait, _ := l.AllowIP(ctx, "2001:db8:1:3::a"); wait != 0 {
		t.Fatal("the next /64 is refused")
	}
	if wait, _ := l.AllowIP(ctx, "198.51.100.7"); wait != 0 {
		t.Fatal("an IPv4 client is refused")
	}
}

func TestIPGroup(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":          "198.51.100.7",
		"::ffff:198.51.100.7":   "198.51.100.7",
		"2001:db8:1:2::1":       "2001:db8:1:2::/64",
		"2001:db8:1:2:abcd::99": "2001:db8:1:2::/64",
		"fe80::1%eth0":          "fe80::/64",
		"not an address":        "not an address",
	} {
		if got := signuplimit.IPGroup(in); got != want {
			t.Errorf("IPGroup(%q) = %q, want %q", in, got, want)
		}
	}
}
