package web

import (
	"net/http"
	"net/url"

	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/token"
)

// The link a text of LINK is answered with (links.TextLink) opens the
// manage page once, within links.TextLinkTTL. Phones and messaging apps
// fetch links to show previews, so opening it (GET) changes nothing: the
// page asks for one tap, and that POST uses the link and opens a manage
// page that stays open for links.TextLinkTTL.

// textLinkPage asks for the tap that opens the manage page.
func (s *Server) textLinkPage(w http.ResponseWriter, r *http.Request) {
	id, _, ok := s.textLinkSubject(w, r)
	if !ok {
		return
	}
	tr := s.text[s.subscriberLocale(r, id)]
	s.message(w, http.StatusOK, tr.locale, messagePage{
		Title:      tr.get("text_link.title"),
		Paragraphs: []string{tr.get("text_link.body")},
		Action:     r.URL.Path,
		Button:     tr.get("text_link.button"),
	})
}

// textLinkOpen uses the link, once, and sends the browser to a manage page
// that works for links.TextLinkTTL.
func (s *Server) textLinkOpen(w http.ResponseWriter, r *http.Request) {
	id, nonce, ok := s.textLinkSubject(w, r)
	if !ok {
		return
	}
	sub, locale := s.linkSubscriber(r, id)
	tr := s.text[locale]
	if sub.ID == "" {
		s.badLink(w, r, token.ErrInvalid)
		return
	}
	first, err := s.d.Store.UseOnce(r.Context(), "textlink:"+nonce, 2*links.TextLinkTTL)
	if err != nil {
		s.internalError(w, r, locale, err)
		return
	}
	if !first {
		s.message(w, http.StatusGone, locale, messagePage{Title: tr.get("text_link.used.title"), Paragraphs: []string{tr.get("text_link.used.body")}})
		return
	}
	s.d.Logger.Info("text link used", "subscriber_id", id)
	manage := "/manage/" + url.PathEscape(s.d.Signer.Sign(token.Manage, id, s.d.Now().Add(links.TextLinkTTL)))
	http.Redirect(w, r, manage, http.StatusSeeOther)
}

// textLinkSubject verifies a text link; on a bad or expired one it answers
// itself and returns false.
func (s *Server) textLinkSubject(w http.ResponseWriter, r *http.Request) (id, nonce string, ok bool) {
	subject, err := s.d.Signer.Verify(token.TextLink, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, r, err)
		return "", "", false
	}
	id, nonce, ok = links.ParseTextLinkSubject(subject)
	if !ok {
		s.badLink(w, r, token.ErrInvalid)
	}
	return id, nonce, ok
}
