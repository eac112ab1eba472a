package web

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCatalogueHasEveryKeyInEveryLocale(t *testing.T) {
	cat := catalogue()
	en := cat[english]
	if len(cat) < 2 || len(en) == 0 {
		t.Fatalf("catalogue has %d locales, English %d keys", len(cat), len(en))
	}
	verbs := regexp.MustCompile(`%[-+# 0-9.\[\]]*[a-zA-Z%]`)
	for locale, m := range cat {
		for key, text := range m {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %s is empty", locale, key)
			}
			enText, ok := en[key]
			if !ok {
				t.Errorf("%s: %s is not in English", locale, key)
				continue
			}
			// The same arguments fill both.
			if got, want := verbs.FindAllString(text, -1), verbs.FindAllString(enText, -1); !slices.Equal(got, want) {
				t.Errorf("%s: %s takes %v, English takes %v", locale, key, got, want)
			}
		}
		for key := range en {
			if _, ok := m[key]; !ok {
				t.Errorf("%s: %s is missing", locale, key)
			}
		}
	}
}

func TestPagesUseOnlyCatalogueKeys(t *testing.T) {
	en := catalogue()[english]
	calls := regexp.MustCompile(`\{\{-?\s*t\s+"([^"]+)"`)
	pages, err := fs.Glob(pageFiles, "pages/*.html")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages: %v", err)
	}
	found := 0
	for _, p := range pages {
		b, err := fs.ReadFile(pageFiles, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range calls.FindAllStringSubmatch(string(b), -1) {
			found++
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s uses %q, which is not in the catalogue", p, m[1])
			}
		}
	}
	if found == 0 {
		t.Error("no {{t \"key\"}} calls found: has the pattern changed?")
	}
}

func TestAcceptLanguage(t *testing.T) {
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"", "", false},
		{"*", "", false},
		{"fr-CA, fr;q=0.9", "", false},
		{"es", "es", true},
		{"ES-mx", "es", true},
		{"en-GB,en;q=0.9,es;q=0.8", "en", true},
		{"es;q=0.8, en;q=0.9", "en", true},
		{"en;q=0.5, es;q=0.5", "en", true},
		{"es;q=0, en;q=0.1", "en", true},
		{"es;q=zero, en;q=0.1", "en", true},
		{"de, es_US;q=0.3", "es", true},
	}
	for _, tt := range tests {
		got, ok := acceptLanguage(tt.header)
		if got != tt.want || ok != tt.ok {
			t.Errorf("acceptLanguage(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDescribeRuleAndTime(t *testing.T) {
	cat := catalogue()
	en, es := texts{english, cat[english]}, texts{spanish, cat[spanish]}
	tests := []struct {
		tr         texts
		rule, want string
	}{
		{en, "weekly:sun@09:00", "Every Sunday at 09:00"},
		{en, "monthly:1@18:30", "The 1st of each month at 18:30"},
		{en, "monthly:22@18:30", "The 22nd of each month at 18:30"},
		{en, "monthly:last@07:00", "The last day of each month at 07:00"},
		{en, "monthly:first-mon@12:00", "The first Monday of each month at 12:00"},
		{es, "weekly:sat@20:15", "Todos los sábados a las 20:15"},
		{es, "weekly:sun@01:30", "Todos los domingos a la 01:30"},
		{es, "monthly:15@08:00", "El día 15 de cada mes a las 08:00"},
		{es, "monthly:last@07:00", "El último día de cada mes a las 07:00"},
		{es, "monthly:last-fri@10:00", "El último viernes de cada mes a las 10:00"},
		{es, "not a rule", "not a rule"},
	}
	for _, tt := range tests {
		if got := describeRule(tt.tr, tt.rule); got != tt.want {
			t.Errorf("%s: describeRule(%q) = %q, want %q", tt.tr.locale, tt.rule, got, tt.want)
		}
	}
	at := time.Date(2027, 3, 7, 9, 5, 0, 0, time.UTC)
	if got, want := describeTime(en, at), "Sunday 7 March, 09:05"; got != want {
		t.Errorf("English time = %q, want %q", got, want)
	}
	if got, want := describeTime(es, at), "Domingo 7 de marzo, 09:05"; got != want {
		t.Errorf("Spanish time = %q, want %q", got, want)
	}
}

func TestFormOptionsInBothLanguages(t *testing.T) {
	cat := catalogue()
	en, es := texts{english, cat[english]}, texts{spanish, cat[spanish]}
	label := func(opts []option, value string) string {
		for _, o := range opts {
			if o.Value == value {
				return o.Label
			}
		}
		return ""
	}
	for _, tt := range []struct{ got, want string }{
		{label(monthDayOptions(en), "1"), "The 1st"},
		{label(monthDayOptions(es), "1"), "El día 1"},
		{label(monthDayOptions(en), "last-fri"), "The last Friday"},
		{label(monthDayOptions(es), "last-fri"), "El último viernes"},
		{label(monthDayOptions(es), "last"), "El último día"},
		{label(weekdayOptions(es), "wed"), "Miércoles"},
	} {
		if tt.got != tt.want {
			t.Errorf("label = %q, want %q", tt.got, tt.want)
		}
	}
	if n := len(monthDayOptions(es)); n != 28+1+14 {
		t.Errorf("%d month-day options, want 43", n)
	}
}
