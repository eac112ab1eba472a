package main

import (
	"github.com/nudgehq/nudge/internal/config"
	"github.com/nudgehq/nudge/internal/email"
)

// smtpDKIM is the email channel's DKIM setting: nil (unsigned) unless the
// NUDGE_DKIM_* variables are complete.
func smtpDKIM(cfg config.Config) *email.DKIMConfig {
	if !cfg.DKIMEnabled() {
		return nil
	}
	return &email.DKIMConfig{Domain: cfg.DKIM.Domain, Selector: cfg.DKIM.Selector, Key: cfg.DKIM.Key.Signer()}
}
