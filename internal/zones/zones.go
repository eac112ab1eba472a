// Package zones lists the IANA time zones people can choose from, so a form
// can offer a plain select that works without JavaScript.
package zones

import _ "time/tzdata" // every listed zone loads in a bare container

// Names returns the zone names, UTC first, then sorted. The slice is a copy.
func Names() []string {
	out := make([]string, len(names))
	copy(out, names[:])
	return out
}
