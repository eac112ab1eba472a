package subscription_test

import (
	"context"
	"testing"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

func TestExportHasTheSubscribersAnswersOnly(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.active(t, "answers@example.org", "+447700900321")
	other := b.active(t, "other-answers@example.org", "+447700900654")
	for _, who := range []string{id, other} {
		a := store.Answer{Occurrence: "weekly-checkin:2026-12-01", Score: 4, Note: "note of " + who, Channel: domain.Email, AnsweredAt: t0}
		if err := b.st.RecordAnswer(ctx, who, a); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := b.mgr.Export(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Answers) != 1 || ex.Answers[0].Note != "note of "+id || ex.Answers[0].Score != 4 {
		t.Fatalf("answers = %+v", ex.Answers)
	}
}
