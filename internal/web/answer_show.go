package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/token"
)

// The answer page lives behind the signed links of a check-in or gratitude
// email (internal/links: Answer). Mail scanners open every link, so a GET
// (or HEAD) never records anything: it shows the answer form with the
// link's score already chosen, and only its Save button (a POST, under the
// same cross-origin protection as every form) records. A second answer to
// the same occurrence replaces the first; the link names its occurrence,
// so a late answer lands on the week it answers.
//
//	GET  /answer/{token}   the form, the link's score chosen
//	POST /answer/{token}   records the answer and shows an acknowledgement
func (s *Server) answerRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /answer/{token}", s.answerShow)
	mux.HandleFunc("POST /answer/{token}", s.answerSave)
}

// answerLink is what an answer link names.
type answerLink struct {
	sub        domain.Subscriber
	occurrence string
	score      int // 0: none chosen
	locale     string
}

// scoreOption is one radio button of the answer form.
type scoreOption struct {
	Value   int
	Label   string
	Checked bool
}

type answerPage struct {
	Title, Question string
	Scores          []scoreOption // none for a gratitude prompt
	Note            string
	MaxNote         int
	Action          string
	Earlier, Error  string
	// After saving:
	Saved bool
	Score int
	Ack   string
	// Crisis, when the note read as distress: where to turn now. The
	// answer is then not saved and the nudges are held.
	Crisis string
}

// answerSubject verifies an answer link and loads its subscriber. On a bad
// link, or a subscriber who is gone, it answers itself and returns false.
func (s *Server) answerSubject(w http.ResponseWriter, r *http.Request) (answerLink, bool) {
	subject, err := s.d.Signer.Verify(token.Rate, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, r, err)
		return answerLink{}, false
	}
	id, occ, score, err := links.ParseAnswerSubject(subject)
	if err != nil || !store.ValidOccurrence(occ) {
		s.badLink(w, r, token.ErrInvalid)
		return answerLink{}, false
	}
	sub, err := s.d.Store.Subscriber(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.badLink(w, r, token.ErrInvalid)
		return answerLink{}, false
	}
	if err != nil {
		s.internalError(w, r, requestLocale(r), err)
		return answerLink{}, false
	}
	return answerLink{sub: sub, occurrence: occ, score: score, locale: storedLocale(sub.Locale)}, true
}

// answerView is the form for l, with score chosen and note filled in.
func (s *Server) answerView(r *http.Request, l answerLink, score int, note string) answerPage {
	tr := s.text[l.locale]
	p := (store.Answer{Occurrence: l.occurrence}).Program()
	v := answerPage{Note: note, MaxNote: store.MaxNoteLen, Action: r.URL.Path}
	switch render.InvitationOf(p) {
	case render.InviteScore:
		v.Title, v.Question = tr.get("answer.title.checkin"), tr.get("answer.question.score")
	case render.InviteLine:
		v.Title, v.Question = tr.get("answer.title.gratitude"), tr.get("answer.question.line")
	default:
		v.Title, v.Question = tr.get("answer.title.other"), tr.get("answer.question.other")
	}
	if p != domain.Gratitude {
		for i := 1; i <= 5; i++ {
			v.Scores = append(v.Scores, scoreOption{Value: i, Label: tr.get("answer.scale." + strconv.Itoa(i)), Checked: i == score})
		}
	}
	return v
}

// answerShow shows the form. It records nothing.
func (s *Server) answerShow(w http.ResponseWriter, r *http.Request) {
	l, ok := s.answerSubject(w, r)
	if !ok {
		return
	}
	score, note, earlier := l.score, "", ""
	prev, err := s.d.Store.Answer(r.Context(), l.sub.ID, l.occurrence)
	switch {
	case err == nil:
		earlier = s.text[l.locale].get("answer.earlier")
		note = prev.Note
		if score == 0 {
			score = prev.Score
		}
	case !errors.Is(err, store.ErrNotFound):
		s.internalError(w, r, l.locale, err)
		return
	}
	v := s.answerView(r, l, score, note)
	v.Earlier = earlier
	s.render(w, http.StatusOK, l.locale, "answer", v)
}
