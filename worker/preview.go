package worker

import (
	"errors"
	"fmt"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/templates"
)

// Previews: what the worker would send a clinic's client, rendered the way
// SendConfirmation, SendSMSConfirm and DeliverPrompt render it, for the
// clinic console to show before anything is sent. l stands in for the
// email's links (a preview must not carry a working confirm link).

// ClinicConfirmation renders the confirmation email a new client of c gets.
func ClinicConfirmation(lib *templates.Library, r *render.Renderer, sub domain.Subscriber, c domain.Clinic, l render.Links) (render.Email, error) {
	msg, err := lib.System(templates.ClinicConfirm, sub.Locale)
	if err != nil {
		return render.Email{}, fmt.Errorf("load %s message: %w", templates.ClinicConfirm, err)
	}
	data := render.Data{FirstName: sub.FirstName, Locale: sub.Locale, Week: 1, Country: countryOf(sub),
		Sender: c.DisplayName, SignOff: c.SignOff, ClinicCrisis: c.CrisisText}
	l.ActionLabel = confirmLabel(sub.Locale)
	return r.Email(msg, data, l)
}

// ClinicSMSConfirmation renders the text asking a new client of c to reply YES.
func ClinicSMSConfirmation(lib *templates.Library, r *render.Renderer, sub domain.Subscriber, c domain.Clinic) (string, error) {
	msg, err := lib.System(templates.ClinicSMSConfirm, sub.Locale)
	if err != nil {
		return "", fmt.Errorf("load %s: %w", templates.ClinicSMSConfirm, err)
	}
	return r.SMS(msg, render.Data{Locale: sub.Locale, Sender: c.DisplayName}, render.FooterOptOut)
}

// PromptMessage renders a between-session prompt (a library message or
// the clinic's own text) as an email and as a text with the opt-out words.
func PromptMessage(lib *templates.Library, r *render.Renderer, sub domain.Subscriber, c domain.Clinic, p domain.Prompt, l render.Links) (render.Email, string, error) {
	data := render.Data{FirstName: sub.FirstName, Goal: sub.Goal, Locale: sub.Locale, Week: 1, Sender: c.DisplayName, SignOff: c.SignOff,
		Country: countryOf(sub), ClinicCrisis: c.CrisisText}
	switch {
	case p.Template > 0:
		msg, err := lib.Pick(domain.BetweenSession, sub.Locale, int64(p.Template-1))
		if err != nil {
			return render.Email{}, "", fmt.Errorf("pick prompt message: %w", err)
		}
		e, err := r.Email(msg, data, l)
		if err != nil {
			return render.Email{}, "", err
		}
		text, err := r.SMS(msg, data, render.FooterOptOut)
		return e, text, err
	case p.Text != "":
		e, err := r.TextEmail(p.Text, data, l)
		if err != nil {
			return render.Email{}, "", err
		}
		text, err := r.TextSMS(p.Text, data, render.FooterOptOut)
		return e, text, err
	}
	return render.Email{}, "", errors.New("the prompt has no message")
}
