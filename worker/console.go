package worker

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// consoleLinkText is the sign-in email, per locale: subject, then the
// paragraphs before and after the link.
var consoleLinkText = map[string][3]string{
	"en": {"Your sign-in link for the nudge console",
		"Someone (we hope you) asked to sign in to your clinic's nudge console. This link works once, within 15 minutes:",
		"If you did not ask, ignore this email: nothing happens without the link."},
	"es": {"Tu enlace para entrar en la consola de nudge",
		"Alguien (esperamos que tú) ha pedido entrar en la consola de nudge de tu clínica. Este enlace funciona una vez, durante 15 minutos:",
		"Si no lo has pedido, ignora este correo: sin el enlace no ocurre nada."},
}

// consoleInviteText is the email that welcomes a new staff member, per
// locale: subject, the paragraph before the link (%s: the clinic's display
// name), and the one after it (%s: the sign-in page).
var consoleInviteText = map[string][3]string{
	"en": {"You have been added to %s on nudge",
		"You are now on the staff of %s in the nudge clinic console. This link signs you in once, within 15 minutes:",
		"Later, or if the link has run out, ask for a new one with this address at %s. If you did not expect this email, tell your clinic."},
	"es": {"Te han añadido a %s en nudge",
		"Ahora formas parte del equipo de %s en la consola de nudge para clínicas. Este enlace te deja entrar una vez, durante 15 minutos:",
		"Más adelante, o si el enlace ha caducado, pide uno nuevo con esta dirección en %s. Si no esperabas este correo, avisa a tu clínica."},
}

var consoleLinkHTML = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="{{.Lang}}"><body>
<p>{{.Before}}</p>
<p><a href="{{.Link}}">{{.Link}}</a></p>
<p>{{.After}}</p>
</body></html>`))

// SendConsoleLink mints a one-time console sign-in link for a staff member
// and emails it. It is not a message to a subscriber: no delivery record,
// no unsubscribe header. A retry mints a new link; an unused one simply
// expires.
func (h *Handler) SendConsoleLink(ctx context.Context, t *asynq.Task) error {
	var p task.SendConsoleLink
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	log := h.d.Logger.With("staff_id", p.StaffID, "message", "console-link")
	st, err := h.d.Store.StaffMember(ctx, p.StaffID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("console link skipped", "reason", "staff member gone")
		return nil
	}
	if err != nil {
		return err
	}
	// The staff member's alert emails follow the language they sign in in.
	if err := h.d.Store.SetStaffLocale(ctx, st.ID, p.Locale); err != nil {
		log.Warn("could not keep the staff member's locale", "err", err)
	}
	tok, err := h.d.Store.CreateSignInLink(ctx, st, h.d.Now())
	if err != nil {
		return err
	}
	if _, ok := consoleLinkText[p.Locale]; !ok {
		p.Locale = "en"
	}
	words := consoleLinkText[p.Locale]
	kind := "console-link"
	if p.Invite {
		name := "your clinic"
		if p.Locale == "es" {
			name = "tu clínica"
		}
		// Staff emails name the clinic by its name, as alert emails do:
		// the display name signs clients' messages and is often "nudge".
		if c, err := h.d.Store.Clinic(ctx, st.Clinic); err == nil && c.Name != "" {
			name = c.Name
		}
		w := consoleInviteText[p.Locale]
		words = [3]string{fmt.Sprintf(w[0], name), fmt.Sprintf(w[1], name), fmt.Sprintf(w[2], h.d.Links.ConsoleSignInPage())}
		kind = "console-invite"
	}
	link := h.d.Links.ConsoleSignIn(tok)
	var html strings.Builder
	if err := consoleLinkHTML.Execute(&html, map[string]string{"Lang": p.Locale, "Before": words[1], "Link": link, "After": words[2]}); err != nil {
		return fmt.Errorf("render console link: %v: %w", err, asynq.SkipRetry)
	}
	if h.d.EmailLimit != nil {
		if err := h.waitRate(ctx, h.d.EmailLimit, domain.Email); err != nil {
			return fmt.Errorf("wait for the email rate: %w", err)
		}
	}
	m := email.Message{
		From: h.d.From, To: st.Email, Subject: words[0],
		Text: words[1] + "\n\n" + link + "\n\n" + words[2] + "\n", HTML: html.String(),
		MessageID: "<" + kind + "." + p.StaffID + "." + p.Nonce + "@" + h.d.Links.Host() + ">",
	}
	if err := h.d.Email.Send(ctx, m); err != nil {
		if email.Classify(err) == email.Temporary {
			return fmt.Errorf("send console link: %w", err)
		}
		// A lost or refused sign-in email is not worth a second one: the
		// staff member asks again.
		return fmt.Errorf("send console link: %v: %w", err, asynq.SkipRetry)
	}
	log.Info("console link sent", "invite", p.Invite)
	return nil
}
