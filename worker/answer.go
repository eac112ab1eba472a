package worker

import (
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
)

// answerLinks are the answer page links an email of program invites with:
// five scores and a line back for a check-in, a line back for gratitude,
// none for the rest. occurrence is what the answer will be attached to.
func (h *Handler) answerLinks(id string, program domain.Program, occurrence string) render.AnswerLinks {
	switch render.InvitationOf(program) {
	case render.InviteScore:
		scores, note := h.d.Links.AnswerLinks(id, occurrence, true)
		return render.AnswerLinks{Scores: scores, Note: note}
	case render.InviteLine:
		_, note := h.d.Links.AnswerLinks(id, occurrence, false)
		return render.AnswerLinks{Note: note}
	}
	return render.AnswerLinks{}
}
