package clinic

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/scheduler"
)

// Settings are what a clinic's owners change about its messages.
type Settings struct {
	DisplayName, SignOff, CrisisText string
	CapDay, CapWeek                  int // 0: the default
	// TimeZone is the clinic's zone (IANA name; "" is UTC), for its staff's
	// weekly digest.
	TimeZone string
}

// UpdateSettings checks and stores a clinic's display name, sign-off,
// crisis text and caps, by the rules CreateClinic applies; an empty display
// name or sign-off is the default, as when a clinic is created.
func (s *Service) UpdateSettings(ctx context.Context, cid string, in Settings) (domain.Clinic, error) {
	c, err := s.c.Store.Clinic(ctx, cid)
	if err != nil {
		return domain.Clinic{}, err
	}
	in.DisplayName = cleanLine(in.DisplayName)
	in.SignOff = cleanLine(in.SignOff)
	in.CrisisText = cleanLine(strings.Join(strings.Fields(in.CrisisText), " "))
	if _, gsm := render.GSM7Segments(in.CrisisText); !gsm {
		return domain.Clinic{}, fieldErr("crisis_text", "use only characters a plain text message can carry (no emoji or accents such as á)")
	}
	switch {
	case utf8.RuneCountInString(in.CrisisText) > MaxCrisisTextLen:
		return domain.Clinic{}, fieldErr("crisis_text", "at most %d characters", MaxCrisisTextLen)
	case utf8.RuneCountInString(in.DisplayName) > MaxDisplayNameLen:
		return domain.Clinic{}, fieldErr("display_name", "at most %d characters", MaxDisplayNameLen)
	case utf8.RuneCountInString(in.SignOff) > MaxSignOffLen:
		return domain.Clinic{}, fieldErr("sign_off", "at most %d characters", MaxSignOffLen)
	}
	in.TimeZone = strings.TrimSpace(in.TimeZone)
	if in.TimeZone != "" {
		if _, err := scheduler.LoadZone(in.TimeZone); err != nil {
			return domain.Clinic{}, fieldErr("time_zone", "not a time zone we know; use a name such as America/New_York")
		}
	}
	capDay, capWeek, err := caps(in.CapDay, in.CapWeek)
	if err != nil {
		return domain.Clinic{}, err
	}
	if in.DisplayName == "" {
		in.DisplayName = s.c.ServiceName
	}
	if in.SignOff == "" {
		in.SignOff = "Your care team"
	}
	c.DisplayName, c.SignOff, c.CrisisText, c.CapDay, c.CapWeek, c.TimeZone = in.DisplayName, in.SignOff, in.CrisisText, capDay, capWeek, in.TimeZone
	if err := s.c.Store.SetClinicSettings(ctx, c); err != nil {
		return domain.Clinic{}, err
	}
	s.c.Logger.Info("clinic settings changed", "clinic_id", cid)
	return c, nil
}

// RotateWebhookSecret replaces the secret a clinic's webhooks are signed
// with and returns the new one, shown this once. Events signed before keep
// the old signature.
func (s *Service) RotateWebhookSecret(ctx context.Context, cid string) (string, error) {
	secret := newWebhookSecret()
	if err := s.c.Store.SetClinicWebhookSecret(ctx, cid, secret); err != nil {
		return "", err
	}
	s.c.Logger.Info("clinic webhook secret rotated", "clinic_id", cid)
	return secret, nil
}
