package crisis_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/crisis"
	"github.com/nudgehq/nudge/internal/render"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/<name>.golden (or writes it with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/crisis/ -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from its golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

// The countries with their own lines, and one without ("FR", golden "other").
var countries = map[string]string{"US": "US", "CA": "CA", "ES": "ES", "MX": "MX", "GB": "GB", "FR": "other"}

func TestDefaultLinesMatchTheirGoldenFiles(t *testing.T) {
	t.Parallel()
	d := crisis.Default()
	for country, name := range countries {
		for _, lang := range []string{"en", "es"} {
			sms, email := d.SMS(country, lang), d.Email(country, lang)
			golden(t, name+"-"+lang, "sms: "+sms+"\nemail: "+email+"\n")
			if n, gsm7 := render.GSM7Segments(sms); !gsm7 || n != 1 || strings.ContainsAny(sms, "áéíóúñÁÉÍÓÚÑü¡¿") {
				t.Errorf("%s/%s: the SMS line is not one segment of plain GSM-7: %q", country, lang, sms)
			}
			if email == "" || strings.Contains(email, "\n") {
				t.Errorf("%s/%s: the email line is not one line: %q", country, lang, email)
			}
		}
	}
}

func TestDefaultLinesNameTheRightNumbers(t *testing.T) {
	t.Parallel()
	d := crisis.Default()
	tests := []struct {
		country, lang string
		want          []string
	}{
		{"US", "en", []string{"988", "911"}},
		{"US", "es", []string{"988", "marca 2", "AYUDA", "911"}},
		{"PR", "es", []string{"988", "marca 2"}},
		{"CA", "en", []string{"988", "911"}},
		{"CA", "es", []string{"988", "911"}},
		{"ES", "en", []string{"024", "112"}},
		{"ES", "es", []string{"024", "112"}},
		{"MX", "en", []string{"800 911 2000", "911"}},
		{"MX", "es", []string{"Linea de la Vida", "800 911 2000", "911"}},
		{"GB", "en", []string{"Samaritans", "116 123", "999"}},
		{"GB", "es", []string{"116 123", "999"}},
		{"GG", "en", []string{"Samaritans", "116 123", "999"}},
		{"", "en", []string{"local emergency number"}},
		{"JP", "es", []string{"numero de emergencias local"}},
	}
	for _, tt := range tests {
		sms := d.SMS(tt.country, tt.lang)
		for _, w := range tt.want {
			if !strings.Contains(sms, w) {
				t.Errorf("SMS(%q, %q) = %q; want it to name %q", tt.country, tt.lang, sms, w)
			}
		}
	}
	if e := d.Email("US", "es"); !strings.Contains(e, "marca 2") || !strings.Contains(e, "español") {
		t.Errorf("the Spanish US footer does not name the Spanish-language option: %q", e)
	}
}

func TestLookupFallsBackCountryThenLanguage(t *testing.T) {
	t.Parallel()
	d, err := crisis.ParseEnv(`{
		"FR": {"en": {"sms": "Call 3114 now (France).", "email": "In crisis, call 3114 (France)."}},
		"DE": {"de": {"sms": "Ruf jetzt 112 an."}},
		"*":  {"fr": {"sms": "Appelez le numero d'urgence local."}}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		country, locale, want string
	}{
		{"FR", "en", "Call 3114 now (France)."},                      // country+locale
		{"fr", "es-MX", "Call 3114 now (France)."},                   // country+"en"
		{"DE", "de", "Ruf jetzt 112 an."},                            // country+locale
		{"DE", "es", "Llama ahora al numero de emergencias local."},  // "*"+locale
		{"BE", "fr", "Appelez le numero d'urgence local."},           // "*"+locale
		{"BE", "nl", "Please call your local emergency number now."}, // "*"+"en"
		{"US", "es", crisis.Default().SMS("US", "es")},               // defaults kept
	}
	for _, tt := range tests {
		if got := d.SMS(tt.country, tt.locale); got != tt.want {
			t.Errorf("SMS(%q, %q) = %q, want %q", tt.country, tt.locale, got, tt.want)
		}
	}
	if got := d.Email("DE", "de"); got != "If you are in crisis, call your local emergency number." {
		t.Errorf("an entry without an email line does not fall back: %q", got)
	}
}

func TestParseOverridesOneFieldAtATime(t *testing.T) {
	t.Parallel()
	d, err := crisis.Parse(strings.NewReader(`{"us": {"EN": {"sms": "Text 988 (US)."}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.SMS("US", "en"); got != "Text 988 (US)." {
		t.Errorf("SMS = %q", got)
	}
	if got, want := d.Email("US", "en"), crisis.Default().Email("US", "en"); got != want {
		t.Errorf("Email = %q, want the default %q", got, want)
	}
	if got := crisis.Default().SMS("US", "en"); got == "Text 988 (US)." {
		t.Error("parsing changed the defaults")
	}
}

func TestParseRefusesBadEntriesNamingThem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc, want string
	}{
		{`{"USA": {"en": {"sms": "x"}}}`, `"USA"`},
		{`{"U1": {"en": {"sms": "x"}}}`, `"U1"`},
		{`{"US": {}}`, `"US": no languages`},
		{`{"US": {"english": {"sms": "x"}}}`, `"US/english"`},
		{`{"US": {"en": {}}}`, `"US/en": neither`},
		{`{"ES": {"es": {"sms": "Llama al número 024"}}}`, `"ES/es": sms holds 'ú'`},
		{`{"US": {"en": {"sms": "` + strings.Repeat("x", 161) + `"}}}`, `"US/en": sms is 161`},
		{`{"US": {"en": {"email": "` + strings.Repeat("x", 301) + `"}}}`, `"US/en": email is 301`},
		{`{"US": {"en": {"email": "two\nlines"}}}`, `"US/en": email must be one line`},
		{`{"US": {"en": {"sms": "x", "phone": "988"}}}`, `unknown field "phone"`},
		{`{"US": `, `unexpected EOF`},
		{`[1]`, `cannot unmarshal`},
		{`{} {}`, `more than one`},
	}
	for _, tt := range tests {
		_, err := crisis.Parse(strings.NewReader(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%.40q) = %v; want an error with %q", tt.doc, err, tt.want)
		}
	}
}

func TestParseEnvReadsAFileOrInlineJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "lines.json")
	if err := os.WriteFile(path, []byte(`{"IE": {"en": {"sms": "Call 116 123 now (Ireland)."}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := crisis.ParseEnv("  " + path + " ")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.SMS("IE", "en"); got != "Call 116 123 now (Ireland)." {
		t.Errorf("from a file: SMS = %q", got)
	}
	d, err = crisis.ParseEnv("")
	if err != nil || d.SMS("ES", "es") != crisis.Default().SMS("ES", "es") {
		t.Errorf("an empty spec is not the defaults: %v", err)
	}
	if _, err := crisis.ParseEnv(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("a missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"XYZ": {"en": {"sms": "x"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := crisis.ParseEnv(bad); err == nil || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), `"XYZ"`) {
		t.Errorf("a bad file: %v", err)
	}
}

func TestCountryFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		phone, zone, want string
	}{
		{"+14155550123", "", "US"},
		{"+16135550123", "America/New_York", "CA"}, // the number wins over the zone
		{"+34612345678", "", "ES"},
		{"+525512345678", "", "MX"},
		{"+447400123456", "", "GB"},
		{"+447911123456", "", "GG"},
		{"+447700900123", "", "GB"}, // a reserved block: the calling code's country
		{"+17875550123", "", "PR"},
		{"+33612345678", "", "FR"},
		{"", "America/Chicago", "US"},
		{"", "America/Toronto", "CA"},
		{"", "America/Mexico_City", "MX"},
		{"", "Europe/Madrid", "ES"},
		{"", "Atlantic/Canary", "ES"},
		{"", "Europe/London", "GB"},
		{"", "America/Bogota", "CO"},
		{"", "America/Argentina/Buenos_Aires", "AR"},
		{"not a number", "Europe/Madrid", "ES"},
		{"+999", "America/Lima", "PE"},
		{"", "Asia/Tokyo", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := crisis.CountryFor(tt.phone, tt.zone); got != tt.want {
			t.Errorf("CountryFor(%q, %q) = %q, want %q", tt.phone, tt.zone, got, tt.want)
		}
	}
}
