package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/store"
)

// withHistory gives id three weeks of check-ins (two answered, one with a
// note) and a gratitude reply.
func (b *bundle) withHistory(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	for i, date := range []string{"2026-11-09", "2026-11-16", "2026-11-23"} {
		at, _ := time.Parse(time.DateOnly, date)
		if err := b.st.MarkSent(ctx, id, "weekly-checkin:"+date, at.Add(18*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			continue
		}
		a := store.Answer{Occurrence: "weekly-checkin:" + date, Score: 2 + 2*i/2, AnsweredAt: at.Add(20 * time.Hour)}
		if i == 2 {
			a.Note = "coffee with <Ana>"
		}
		if err := b.st.RecordAnswer(ctx, id, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.st.MarkSent(ctx, id, "gratitude:2026-11-19", time.Date(2026, 11, 19, 18, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := b.st.RecordAnswer(ctx, id, store.Answer{Occurrence: "gratitude:2026-11-19", Note: "the baker kept me a loaf", AnsweredAt: time.Date(2026, 11, 19, 19, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
}

func TestYourMonthShowsTheWeeksAsAChartAndATable(t *testing.T) {
	b := setup(t)
	id, manage := b.confirmed(t, nil)
	b.withHistory(t, id)
	if res := b.send(t, "GET", manage, nil, nil); !strings.Contains(res.body, `href="`+manage+`/month"`) {
		t.Fatal("the manage page does not link to Your month")
	}
	res := b.send(t, "GET", manage+"/month", nil, nil)
	if res.code != 200 {
		t.Fatalf("GET month = %d", res.code)
	}
	for _, want := range []string{
		`<svg role="img" aria-labelledby="chart-title chart-desc"`,
		`<title id="chart-title">How connected each week felt, the last 3 check-ins</title>`,
		`<desc id="chart-desc">You answered 2 of 3 check-ins; your average score was 3.0 out of 5.</desc>`,
		`<th scope="row">9 Nov</th><td>2 of 5</td>`,
		`<th scope="row">16 Nov</th><td>no answer</td>`,
		`<th scope="row">23 Nov</th><td>4 of 5</td><td>coffee with &lt;Ana&gt;`,
		"the baker kept me a loaf",
		`<input type="checkbox" id="quote" name="quote" value="on" aria-describedby="quote-hint">`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Count(res.body, `<rect `) != 2 {
		t.Errorf("want two bars (two scores), got %d", strings.Count(res.body, `<rect `))
	}
}

func TestYourMonthDeletesANoteAndKeepsTheScore(t *testing.T) {
	b := setup(t)
	id, manage := b.confirmed(t, nil)
	b.withHistory(t, id)
	cross := b.send(t, "POST", manage+"/month/notes", url.Values{"occurrence": {"weekly-checkin:2026-11-23"}}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if cross.code != http.StatusForbidden {
		t.Fatalf("cross-site delete = %d, want 403", cross.code)
	}
	if res := b.send(t, "POST", manage+"/month/notes", url.Values{"occurrence": {"not an occurrence"}}, nil); res.code != http.StatusBadRequest {
		t.Fatalf("bad occurrence = %d, want 400", res.code)
	}
	res := b.send(t, "POST", manage+"/month/notes", url.Values{"occurrence": {"weekly-checkin:2026-11-23"}}, nil)
	if res.code != http.StatusSeeOther || res.location != manage+"/month?done=deleted" {
		t.Fatalf("delete = %d to %q", res.code, res.location)
	}
	a, err := b.st.Answer(context.Background(), id, "weekly-checkin:2026-11-23")
	if err != nil || a.Note != "" || a.Score != 4 {
		t.Fatalf("after delete: %+v, %v", a, err)
	}
	if res := b.send(t, "GET", res.location, nil, nil); !strings.Contains(res.body, "The note is deleted.") || strings.Contains(res.body, "coffee with") {
		t.Fatal("the page still shows the note, or does not say it is deleted")
	}
}

func TestYourMonthQuoteChoiceIsRecordedInTheLedger(t *testing.T) {
	b := setup(t)
	id, manage := b.confirmed(t, url.Values{"locale": {"es"}})
	ctx := context.Background()
	res := b.send(t, "GET", manage+"/month", nil, nil)
	if !strings.Contains(res.body, `<html lang="es">`) || !strings.Contains(res.body, "Citar mis notas en mi repaso mensual") || !strings.Contains(res.body, "Todavía no hay repasos") {
		t.Fatalf("Spanish page:\n%s", res.body)
	}
	if res := b.send(t, "POST", manage+"/month/quote", url.Values{"quote": {"on"}}, nil); res.code != http.StatusSeeOther {
		t.Fatalf("quote on = %d", res.code)
	}
	if on, _ := b.st.QuoteNotes(ctx, id); !on {
		t.Fatal("quoting not on")
	}
	if res := b.send(t, "GET", manage+"/month?done=saved", nil, nil); !strings.Contains(res.body, `value="on" checked`) || !strings.Contains(res.body, "Tu elección está guardada.") {
		t.Fatal("the page does not show the choice saved")
	}
	if res := b.send(t, "POST", manage+"/month/quote", url.Values{}, nil); res.code != http.StatusSeeOther {
		t.Fatalf("quote off = %d", res.code)
	}
	ledger, err := b.st.Consent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ledger {
		if e.Action == store.ConsentQuoteNotes {
			got = append(got, e.Detail+" "+e.Source+" "+e.Wording)
		}
	}
	want := []string{"on manage-page Citar mis notas en mi repaso mensual", "off manage-page Citar mis notas en mi repaso mensual"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("ledger = %q, want %q", got, want)
	}
}
