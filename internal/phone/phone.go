// Package phone turns what a person types into a mobile number in E.164
// form, with nyaruka/phonenumbers (a port of Google's libphonenumber).
package phone

import (
	"errors"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Errors a person can be shown, one per way the input is wrong.
var (
	ErrEmpty      = errors.New("no number given")
	ErrInvalid    = errors.New("not a phone number")
	ErrNotMobile  = errors.New("not a mobile number")
	ErrNotAllowed = errors.New("numbers from that country are not accepted")
)

// Normaliser reads numbers for a set of countries.
type Normaliser struct {
	region  string   // the country assumed when the number has no +code
	allowed []string // ISO 3166 alpha-2 codes, upper case; empty means any
}

// New returns a Normaliser. defaultRegion (e.g. "US", "GB") is assumed for
// numbers typed without a country code; allowed limits the countries.
func New(defaultRegion string, allowed []string) *Normaliser {
	up := make([]string, len(allowed))
	for i, a := range allowed {
		up[i] = strings.ToUpper(strings.TrimSpace(a))
	}
	return &Normaliser{region: strings.ToUpper(defaultRegion), allowed: up}
}

// Normalise returns the number in E.164 form ("+447700900123"), or an error
// saying why it cannot be texted. Fixed-line numbers are refused; numbers
// that could be either (as in the US) are accepted.
func (n *Normaliser) Normalise(input string) (string, error) {
	input = strings.TrimSpace(input)
	if input == "" {
		return "", ErrEmpty
	}
	if len(input) > 40 {
		return "", ErrInvalid
	}
	num, err := phonenumbers.Parse(input, n.region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", ErrInvalid
	}
	region := phonenumbers.GetRegionCodeForNumber(num)
	if len(n.allowed) > 0 && !slices.Contains(n.allowed, region) {
		return "", ErrNotAllowed
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return "", ErrNotMobile
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}
