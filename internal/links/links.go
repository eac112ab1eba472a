// Package links builds the absolute, signed links that messages and pages
// carry: confirm, manage and unsubscribe. Every link starts at the configured
// base URL and carries an expiring token, never a guessable id.
package links

import (
	"net/url"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/token"
)

// How long each kind of link works.
const (
	ConfirmTTL     = 7 * 24 * time.Hour
	ManageTTL      = 400 * 24 * time.Hour
	UnsubscribeTTL = 2 * 365 * 24 * time.Hour
	// TextLinkTTL is how long a link sent in answer to LINK works, and
	// how long the manage page it opens stays open.
	TextLinkTTL = 30 * time.Minute
)

// Builder makes links for one base URL.
type Builder struct {
	base   string
	signer *token.Signer
	now    func() time.Time
}

// New returns a Builder. base is an absolute URL without a trailing slash.
func New(base string, signer *token.Signer, now func() time.Time) *Builder {
	return &Builder{base: strings.TrimRight(base, "/"), signer: signer, now: now}
}

func (b *Builder) link(path string, p token.Purpose, id string, ttl time.Duration) string {
	return b.base + path + url.PathEscape(b.signer.Sign(p, id, b.now().Add(ttl)))
}

// ConsoleSignInPage is the console's sign-in page, where staff ask for a
// link.
func (b *Builder) ConsoleSignInPage() string { return b.base + "/console/sign-in" }

// ConsoleSignIn is a staff member's one-time link into the clinic console.
// The token is the console's own (store.CreateSignInLink), not a signed one.
func (b *Builder) ConsoleSignIn(tok string) string {
	return b.base + "/console/sign-in/" + url.PathEscape(tok)
}

// ConsoleAlerts is the console's alert list, for staff emails.
func (b *Builder) ConsoleAlerts() string { return b.base + "/console/alerts" }

// Confirm is the double opt-in link.
func (b *Builder) Confirm(id string) string {
	return b.link("/confirm/", token.Confirm, id, ConfirmTTL)
}

// Manage is the preference-centre link in every footer.
func (b *Builder) Manage(id string) string {
	return b.link("/manage/", token.Manage, id, ManageTTL)
}

// Unsubscribe is the footer link and the RFC 8058 one-click URL.
func (b *Builder) Unsubscribe(id string) string {
	return b.link("/unsubscribe/", token.Unsubscribe, id, UnsubscribeTTL)
}

// TextLink is the link a text of LINK is answered with: it opens the
// manage page once (nonce names the use), within TextLinkTTL.
func (b *Builder) TextLink(id, nonce string) string {
	return b.link("/link/", token.TextLink, TextLinkSubject(id, nonce), TextLinkTTL)
}

// TextLinkSubject is the signed subject of a text link.
func TextLinkSubject(id, nonce string) string { return id + "." + nonce }

// ParseTextLinkSubject splits a text link's subject into the subscriber
// and the nonce.
func ParseTextLinkSubject(subject string) (id, nonce string, ok bool) {
	id, nonce, ok = strings.Cut(subject, ".")
	return id, nonce, ok && id != "" && nonce != ""
}

// StatusCallback is where Twilio reports what became of each text.
func (b *Builder) StatusCallback() string { return b.base + "/webhooks/twilio/status" }

// Host is the base URL's host, used to make stable Message-IDs.
func (b *Builder) Host() string {
	u, err := url.Parse(b.base)
	if err != nil || u.Hostname() == "" {
		return "localhost"
	}
	return u.Hostname()
}
