package web

import (
	"strings"
	"testing"
)

// The preference centre's text is merged into the catalogue: a key defined
// in both places would silently lose one of its texts.
func TestManageTextDoesNotRedefineCatalogueKeys(t *testing.T) {
	for _, c := range []struct {
		locale      string
		base, extra map[string]string
	}{
		{english, englishText(), manageEnglish()},
		{spanish, spanishText(), manageSpanish()},
	} {
		for key := range c.extra {
			if _, ok := c.base[key]; ok {
				t.Errorf("%s: %s is defined twice", c.locale, key)
			}
		}
	}
}

func TestRuleChoiceUndoesBuildRule(t *testing.T) {
	for _, p := range formPrograms {
		for _, c := range []programChoice{
			{Checked: true, Day: p.DefaultDay, Time: p.DefaultTime},
			{Checked: true, Day: map[bool]string{false: "mon", true: "first-sun"}[p.Monthly], Time: "07:05"},
		} {
			rule, key := buildRule(p, c)
			if key != "" {
				t.Fatalf("buildRule(%s, %+v) refused: %s", p.Program, c, key)
			}
			if got := ruleChoice(rule); got != c {
				t.Errorf("ruleChoice(%q) = %+v, want %+v", rule, got, c)
			}
		}
	}
	if got := ruleChoice("not a rule"); got.Checked {
		t.Errorf("an unreadable rule comes back checked: %+v", got)
	}
}

// What a clinic's client reads names the clinic only by its display name
// and says nothing of what the arrangement is for: a page can be read over
// a shoulder.
func TestClientTextIsNeutral(t *testing.T) {
	words := []string{"clinic", "clínica", "therap", "terap", "session", "sesi", "patient", "paciente", "health", "salud",
		"care", "cuidado", "treatment", "tratamiento", "counsel", "consulta", "doctor", "médic"}
	found := 0
	for locale, m := range catalogue() {
		for key, text := range m {
			if !strings.HasPrefix(key, "manage.client.") {
				continue
			}
			found++
			low := strings.ToLower(text)
			for _, w := range words {
				if strings.Contains(low, w) {
					t.Errorf("%s: %s says %q: %s", locale, key, w, text)
				}
			}
		}
	}
	if found < 2*10 {
		t.Errorf("found %d client texts, want at least 20", found)
	}
}
