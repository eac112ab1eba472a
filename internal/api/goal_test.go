package api

import (
	"encoding/json"
	"net/http"
	"testing"
)

// A clinic may give the client's goal at enrolment; it is kept cleaned,
// shown back, and library prompts may use it.
func TestEnrolmentKeepsTheGoal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.tenant(t, "Goal")
	rec := b.call(t, "POST", "/api/v1/clients", a.key, `{"first_name":"Robin","goal":"  my brother\u202e ","email":"robin-goal@example.org",`+
		`"time_zone":"Europe/London","channels":["email"],"consent":{"obtained_by":"Dr Who","obtained_at":"2026-11-19T09:00:00Z","method":"written"}}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("enrol = %d %s", rec.Code, rec.Body)
	}
	var c struct {
		ID   string  `json:"id"`
		Goal *string `json:"goal"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil || c.Goal == nil || *c.Goal != "my brother" {
		t.Fatalf("enrolled client %s (%v)", rec.Body, err)
	}
	sub, err := b.store.Subscriber(t.Context(), c.ID)
	if err != nil || sub.Goal != "my brother" {
		t.Fatalf("stored goal %q (%v)", sub.Goal, err)
	}
	rec = b.call(t, "GET", "/api/v1/clients/"+a.client, a.key, "")
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil || c.Goal != nil {
		t.Fatalf("a client enrolled without a goal shows %s", rec.Body)
	}
}
