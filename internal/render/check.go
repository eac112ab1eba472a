package render

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nudgehq/nudge/internal/domain"
)

// Check renders every message of the library, in every locale and channel it
// has, with a long name and goal, and reports every one that cannot be sent:
// an SMS too long even after its fallbacks, a template that fails to run.
// Messages a clinic's client gets (the between-session series, the
// "clinic-" system messages) are also rendered from a sender with a name of
// [MaxSenderLen] characters, the longest display name.
// Run it at start-up and in tests, so a copy edit cannot break sending.
func (r *Renderer) Check() error {
	if r.lib == nil {
		return errors.New("render check: no library")
	}
	d := Data{FirstName: "Maximiliana-Alejandra", Goal: "call my sister every Sunday and meet a neighbour", Week: 52}
	clinic := d
	clinic.Sender = strings.Repeat("N", MaxSenderLen)
	l := Links{
		Manage:      "https://nudge.example/manage/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		Unsubscribe: "https://nudge.example/unsubscribe/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	}
	var problems []error
	for _, m := range r.lib.Messages() {
		if m.Subject != nil {
			if _, err := r.Email(m, d, l); err != nil {
				problems = append(problems, err)
			}
		}
		// With the opt-out footer: the longest an SMS gets.
		if m.SMS != nil {
			if _, err := r.SMS(m, d, FooterOptOut); err != nil {
				problems = append(problems, err)
			}
			if m.Program == domain.BetweenSession || strings.HasPrefix(m.Name, "clinic-") && m.Program == "" {
				if _, err := r.SMS(m, clinic, FooterOptOut); err != nil {
					problems = append(problems, fmt.Errorf("from a clinic: %w", err))
				}
			}
		}
	}
	return errors.Join(problems...)
}
