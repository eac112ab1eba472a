package sms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	messaging "github.com/twilio/twilio-go/rest/messaging/v1"
)

// ErrCheck is what Check's findings about the account match (errors.Is):
// the credentials work but the account or the sender is not usable.
var ErrCheck = errors.New("twilio account not ready")

// Check asks Twilio, without sending anything, whether the settings work:
// the credentials fetch the account, the account is active, and the sender
// exists (the From number among the account's numbers, or the messaging
// service). It returns what it found ("account active, number +1…").
func (t *Twilio) Check(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	c := &client.Client{
		Credentials: t.creds,
		HTTPClient: &http.Client{
			Transport:     redirect{base: t.transport, target: t.target, ctx: ctx},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(t.accountSID)
	handler := &client.RequestHandler{Client: c}

	acct, err := openapi.NewApiService(handler).FetchAccount(t.accountSID)
	if err != nil {
		return "", fmt.Errorf("fetch account %s: %w", t.accountSID, explain(err))
	}
	if acct.Status == nil || *acct.Status != "active" {
		status := "unknown"
		if acct.Status != nil {
			status = *acct.Status
		}
		return "", fmt.Errorf("%w: account %s is %s, not active", ErrCheck, t.accountSID, status)
	}
	if t.service != "" {
		if _, err := messaging.NewApiService(handler).FetchService(t.service); err != nil {
			return "", fmt.Errorf("fetch messaging service %s: %w", t.service, explain(err))
		}
		return "account active, messaging service " + t.service + " exists", nil
	}
	params := &openapi.ListIncomingPhoneNumberParams{}
	params.SetPhoneNumber(t.from)
	params.SetPageSize(1)
	page, err := openapi.NewApiService(handler).PageIncomingPhoneNumber(params, "", "")
	if err != nil {
		return "", fmt.Errorf("list the account's numbers: %w", explain(err))
	}
	for _, n := range page.IncomingPhoneNumbers {
		if n.PhoneNumber != nil && *n.PhoneNumber == t.from {
			return "account active, number " + t.from + " belongs to it", nil
		}
	}
	return "", fmt.Errorf("%w: %s is not one of the account's phone numbers", ErrCheck, t.from)
}

// explain turns Twilio's answer into a sentence: a 401 is the credentials,
// a 404 a SID that does not exist.
func explain(err error) error {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		switch rest.Status {
		case http.StatusUnauthorized:
			return fmt.Errorf("%w: Twilio refused the account SID and auth token (code %d)", ErrCheck, rest.Code)
		case http.StatusNotFound:
			return fmt.Errorf("%w: Twilio has no such resource (code %d)", ErrCheck, rest.Code)
		}
		return fmt.Errorf("twilio answered %d (code %d): %s", rest.Status, rest.Code, rest.Message)
	}
	return err
}

// redirect points each request at the configured API URL (as Send does)
// and bounds it by ctx; GETs only, so none needs the care Send takes.
type redirect struct {
	base   http.RoundTripper
	target *url.URL
	ctx    context.Context
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.WithContext(r.ctx)
	if r.target != nil {
		u := *out.URL
		u.Scheme, u.Host, u.Path, u.RawPath = r.target.Scheme, r.target.Host, r.target.Path+u.Path, ""
		out.URL, out.Host = &u, ""
	}
	return r.base.RoundTrip(out)
}
