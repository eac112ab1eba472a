package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/token"
)

// A link sent in answer to LINK: link previews (GET, HEAD) use nothing; one
// tap opens the person's page, which works for 30 minutes; the link never
// opens it a second time, and an old or altered link opens nothing.
func TestATextLinkOpensThePageOnce(t *testing.T) {
	b := setup(t)
	id, _ := b.confirmed(t, url.Values{"locale": {"es"}})
	p := "/link/" + b.signer.Sign(token.TextLink, links.TextLinkSubject(id, "n0nce1"), b.now.Add(links.TextLinkTTL))
	for _, method := range []string{"GET", "HEAD", "GET"} {
		if res := b.send(t, method, p, nil, http.Header{"Sec-Purpose": {"prefetch"}}); res.code != 200 {
			t.Fatalf("%s = %d", method, res.code)
		}
	}
	res := b.send(t, "GET", p, nil, nil)
	if !strings.Contains(res.body, `<form method="post" action="`+p+`"`) || !strings.Contains(res.body, "Abrir mi página") {
		t.Fatalf("no button that opens the page, in Spanish:\n%s", res.body)
	}
	res = b.send(t, "POST", p, url.Values{}, nil)
	if res.code != http.StatusSeeOther || !strings.HasPrefix(res.location, "/manage/") {
		t.Fatalf("POST = %d to %q", res.code, res.location)
	}
	manage := strings.TrimPrefix(res.location, "/manage/")
	if subject, err := b.signer.Verify(token.Manage, manage, b.now.Add(links.TextLinkTTL-1)); err != nil || subject != id {
		t.Fatalf("the page it opens: %q, %v", subject, err)
	}
	if _, err := b.signer.Verify(token.Manage, manage, b.now.Add(links.TextLinkTTL+1)); err == nil {
		t.Fatal("the page it opens stays open past 30 minutes")
	}
	if page := b.send(t, "GET", res.location, nil, nil); page.code != 200 || !strings.Contains(page.body, "Tus mensajes") {
		t.Fatalf("manage page = %d", page.code)
	}
	if again := b.send(t, "POST", p, url.Values{}, nil); again.code != http.StatusGone || again.location != "" || !strings.Contains(again.body, "ENLACE") {
		t.Fatalf("second use = %d to %q:\n%s", again.code, again.location, again.body)
	}
	old := "/link/" + b.signer.Sign(token.TextLink, links.TextLinkSubject(id, "n0nce2"), b.now.Add(-1))
	if res := b.send(t, "POST", old, url.Values{}, nil); res.code != http.StatusNotFound || res.location != "" {
		t.Fatalf("an expired link = %d to %q", res.code, res.location)
	}
	// A manage token is not a text link, nor the other way round.
	if res := b.send(t, "POST", "/link/"+manage, url.Values{}, nil); res.code != http.StatusNotFound {
		t.Fatalf("a manage token as a text link = %d", res.code)
	}
}
