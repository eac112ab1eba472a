package web

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/ack"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/keyword"
	"github.com/nudgehq/nudge/internal/safety"
	"github.com/nudgehq/nudge/internal/store"
)

// answerSave records the answer the form sends, replacing an earlier one
// to the same occurrence, and shows an acknowledgement that listens to it.
func (s *Server) answerSave(w http.ResponseWriter, r *http.Request) {
	l, ok := s.answerSubject(w, r)
	if !ok {
		return
	}
	tr := s.text[l.locale]
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.message(w, http.StatusBadRequest, l.locale, messagePage{Title: tr.get("bad_form.title"), Paragraphs: []string{tr.get("bad_form.body")}})
		return
	}
	note := strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("note"), "\r\n", "\n"))
	score := 0
	raw := r.PostForm.Get("score")
	program := (store.Answer{Occurrence: l.occurrence}).Program()
	problem := ""
	if raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 5 || program == domain.Gratitude {
			problem = tr.get("answer.error.score")
		} else {
			score = n
		}
	}
	switch {
	case problem != "":
	case !utf8.ValidString(note) || utf8.RuneCountInString(note) > store.MaxNoteLen:
		problem = tr.get("answer.error.long", store.MaxNoteLen)
	case score == 0 && note == "" && program == domain.Gratitude:
		problem = tr.get("answer.error.empty_line")
	case score == 0 && note == "":
		problem = tr.get("answer.error.empty")
	}
	if problem != "" {
		v := s.answerView(r, l, score, note)
		v.Error = problem
		s.render(w, http.StatusUnprocessableEntity, l.locale, "answer", v)
		return
	}
	if m := keyword.Read(note); m.Distress {
		s.answerInDistress(w, r, l, score, note, m.Rule)
		return
	}
	a := store.Answer{Occurrence: l.occurrence, Score: score, Note: note, Channel: domain.Email, AnsweredAt: s.d.Now()}
	if err := s.d.Store.RecordAnswer(r.Context(), l.sub.ID, a); err != nil {
		if domain.ErrorCode(err) == domain.ErrNotFound {
			s.badLink(w, r, err)
			return
		}
		s.internalError(w, r, l.locale, err)
		return
	}
	s.d.Logger.Info("answer recorded", "subscriber_id", l.sub.ID, "occurrence", l.occurrence, "channel", domain.Email)
	last, err := s.d.Store.LastAck(r.Context(), l.sub.ID)
	if err != nil {
		s.d.Logger.Warn("load last acknowledgement", "subscriber_id", l.sub.ID, "err", err)
	}
	text, index := ack.Pick(l.locale, score, note, last)
	if err := s.d.Store.SetLastAck(r.Context(), l.sub.ID, index); err != nil {
		s.d.Logger.Warn("keep last acknowledgement", "subscriber_id", l.sub.ID, "err", err)
	}
	v := s.answerView(r, l, score, note)
	v.Saved, v.Score, v.Ack = true, score, text
	s.render(w, http.StatusOK, l.locale, "answer", v)
}

// answerInDistress answers a note that reads as distress the way a text in
// distress is answered: at once, with the crisis resources of the person's
// country in their language, and their nudges held (internal/safety). The
// note is not kept as an answer (the monthly review would quote it back).
func (s *Server) answerInDistress(w http.ResponseWriter, r *http.Request, l answerLink, score int, note, rule string) {
	clinicText := ""
	if l.sub.Clinic != "" {
		c, err := s.d.Store.Clinic(r.Context(), l.sub.Clinic)
		if err != nil {
			s.internalError(w, r, l.locale, err)
			return
		}
		clinicText = c.CrisisText
	}
	safe := s.safety()
	help := safe.HelpFor(l.sub.Phone, l.sub.TimeZone, l.locale, clinicText)
	if err := safe.Hold(r.Context(), l.sub, domain.Email, rule, help, ""); err != nil {
		if domain.ErrorCode(err) == domain.ErrNotFound {
			s.badLink(w, r, err)
			return
		}
		s.internalError(w, r, l.locale, err)
		return
	}
	v := s.answerView(r, l, score, note)
	v.Crisis = help.Email
	s.render(w, http.StatusOK, l.locale, "answer", v)
}

// safety is the responder to distress: the one in Deps, or one on Store
// with the built-in crisis resources.
func (s *Server) safety() *safety.Responder {
	if s.d.Safety != nil {
		return s.d.Safety
	}
	return &safety.Responder{Store: s.d.Store, Now: s.d.Now, Logger: s.d.Logger}
}
