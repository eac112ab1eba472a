package web

import (
	"net/http"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
)

// backToMonth answers a change on "Your month" with a redirect to it.
func backToMonth(w http.ResponseWriter, r *http.Request, done string) {
	http.Redirect(w, r, manageBase(r)+"/month?done="+done, http.StatusSeeOther)
}

// monthNoteRemove deletes the note of one answer; its score stays.
func (s *Server) monthNoteRemove(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.manageSubject(w, r)
	if !ok {
		return
	}
	tr := s.text[storedLocale(sub.Locale)]
	if !s.parseForm(w, r, tr.locale) {
		return
	}
	occ := r.PostForm.Get("occurrence")
	if !store.ValidOccurrence(occ) {
		s.message(w, http.StatusBadRequest, tr.locale, messagePage{Title: tr.get("bad_form.title"), Paragraphs: []string{tr.get("bad_form.body")}})
		return
	}
	if _, err := s.d.Store.DeleteAnswerNote(r.Context(), sub.ID, occ); err != nil {
		s.internalError(w, r, tr.locale, err)
		return
	}
	s.d.Logger.Info("answer note deleted", "subscriber_id", sub.ID, "occurrence", occ)
	backToMonth(w, r, "deleted")
}

// monthQuoteSave turns "quote my notes back to me" on or off, recorded in
// the consent ledger.
func (s *Server) monthQuoteSave(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.manageSubject(w, r)
	if !ok {
		return
	}
	tr := s.text[storedLocale(sub.Locale)]
	if !s.parseForm(w, r, tr.locale) {
		return
	}
	on := r.PostForm.Get("quote") == "on"
	o := origin(r, subscription.SourceManagePage)
	ev := store.ConsentEvent{At: s.d.Now(), Action: store.ConsentQuoteNotes, Channel: string(domain.Email), Source: o.Source,
		Wording: tr.get("yourmonth.quote_label"), IP: o.IP, UserAgent: o.UserAgent}
	if _, err := s.d.Store.SetQuoteNotes(r.Context(), sub.ID, on, ev); err != nil {
		if domain.ErrorCode(err) == domain.ErrNotFound {
			s.badLink(w, r, err)
			return
		}
		s.internalError(w, r, tr.locale, err)
		return
	}
	backToMonth(w, r, "saved")
}
