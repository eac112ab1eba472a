package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nudgehq/nudge/internal/axetest"
	"github.com/nudgehq/nudge/internal/store"
)

// The owners' console pages (staff, settings, audit export), the clinic's
// idle limit and the TOTP second factor, through the real App.

const pendingCookie = consoleCookie + "_pending"

var (
	totpSecretRE = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7 ]+)</code>`)
	shownOnceRE  = regexp.MustCompile(`<code id="shown-once">([^<]+)</code>`)
)

// totpAt is an authenticator app's code for secret at t (RFC 6238,
// SHA-1, six digits, 30 s), written here apart from the console's.
func totpAt(secret []byte, t time.Time) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[19] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1000000)
}

// secretOn reads the base32 key an enrolment page shows.
func secretOn(t *testing.T, body string) []byte {
	t.Helper()
	m := totpSecretRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret on the page: %s", body)
	}
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cookieDo is consoleDo with any cookies, returning every cookie set.
func cookieDo(t *testing.T, a *smsApp, method, path string, cookies map[string]string, form url.Values, header http.Header) (consoleAnswer, map[string]string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	for k, v := range cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := consoleAnswer{status: resp.StatusCode, body: string(raw), location: resp.Header.Get("Location"), header: resp.Header}
	set := map[string]string{}
	for _, c := range resp.Cookies() {
		set[c.Name] = c.Value
		if c.Name == consoleCookie && c.Value != "" {
			out.cookie = c
		}
	}
	return out, set
}

// openLink asks for a sign-in link and presses its button, returning the
// answer (a session, or a pending second factor).
func openLink(t *testing.T, a *smsApp, addr string, n int) (consoleAnswer, map[string]string) {
	t.Helper()
	if r := askLink(t, a, addr); r.status != http.StatusOK {
		t.Fatalf("ask for a link: %d", r.status)
	}
	return cookieDo(t, a, "POST", waitLinks(t, a, addr, n), nil, url.Values{}, nil)
}

func TestConsoleOwnerStaffPage(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic O")
	owner := addStaff(t, a, cid, "owner@o.test", "owner")
	s := signIn(t, a, "owner@o.test", 1)

	page := consoleDo(t, a, "GET", "/console/staff", s, nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, "owner@o.test") || page.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("staff page: %d", page.status)
	}

	// Bad input comes back with the message by its field.
	r := consoleDo(t, a, "POST", "/console/staff", s, url.Values{"email": {"not an address"}, "role": {"clinician"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="email-error"`) || !strings.Contains(r.body, `value="not an address"`) {
		t.Errorf("bad address: %d %s", r.status, r.body)
	}
	// An address already staff (here, or at another clinic) is refused alike.
	other, _ := newClinic(t, a, "Clinic Other")
	addStaff(t, a, other, "elsewhere@other.test", "owner")
	if r := consoleDo(t, a, "POST", "/console/staff", s, url.Values{"email": {"elsewhere@other.test"}, "role": {"clinician"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="email-error"`) {
		t.Errorf("taken address: %d", r.status)
	}

	// An invitation adds the clinician and emails them a link that works.
	r = consoleDo(t, a, "POST", "/console/staff", s, url.Values{"email": {"new@o.test"}, "role": {"clinician"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/console/staff?done=invited") {
		t.Fatalf("invite: %d %q %s", r.status, r.location, r.body)
	}
	st, err := a.st.StaffByEmail(ctx, "new@o.test")
	if err != nil || st.Clinic != cid || st.Role != store.RoleClinician {
		t.Fatalf("invited staff: %+v %v", st, err)
	}
	link := waitLinks(t, a, "new@o.test", 1)
	// It is an invitation, not a sign-in someone asked for: it names the
	// clinic and where to ask for a link later.
	invited := false
	for _, m := range a.mail.Messages() {
		if len(m.To) == 1 && m.To[0] == "new@o.test" {
			invited = strings.Contains(m.Header.Get("Subject"), "You have been added to") &&
				strings.Contains(m.Text, "with this address at https://nudge.test/console/sign-in.") && !strings.Contains(m.Text, "Someone (we hope you)")
		}
	}
	if !invited {
		t.Errorf("the invitation email does not read as one")
	}
	in := consoleDo(t, a, "POST", link, "", url.Values{})
	if in.status != http.StatusSeeOther || in.cookie == nil {
		t.Fatalf("the invitation's link: %d", in.status)
	}
	newcomer := in.cookie.Value
	if r := consoleDo(t, a, "GET", "/console/staff", newcomer, nil); r.status != http.StatusNotFound {
		t.Errorf("a clinician's staff page: %d", r.status)
	}

	// The only owner can be neither demoted nor removed.
	for _, p := range []struct {
		path string
		form url.Values
	}{{"/console/staff/" + owner + "/role", url.Values{"role": {"clinician"}}}, {"/console/staff/" + owner + "/remove", url.Values{}}} {
		if r := consoleDo(t, a, "POST", p.path, s, p.form); r.status != http.StatusConflict || !strings.Contains(r.body, "at least one owner") {
			t.Errorf("%s on the last owner: %d", p.path, r.status)
		}
	}
	if got, _ := a.st.StaffMember(ctx, owner); got.Role != store.RoleOwner {
		t.Errorf("the last owner is %s", got.Role)
	}

	// Promoted, the newcomer has the owners' pages at once, in their
	// session; then the first owner may step down.
	if r := consoleDo(t, a, "POST", "/console/staff/"+st.ID+"/role", s, url.Values{"role": {"owner"}}); r.status != http.StatusSeeOther {
		t.Fatalf("promote: %d %s", r.status, r.body)
	}
	if r := consoleDo(t, a, "GET", "/console/staff", newcomer, nil); r.status != http.StatusOK {
		t.Errorf("the promoted newcomer's staff page: %d", r.status)
	}
	if r := consoleDo(t, a, "POST", "/console/staff/"+owner+"/role", newcomer, url.Values{"role": {"clinician"}}); r.status != http.StatusSeeOther {
		t.Fatalf("demote the first owner: %d", r.status)
	}
	if r := consoleDo(t, a, "GET", "/console/settings", s, nil); r.status != http.StatusNotFound {
		t.Errorf("the demoted owner's settings page: %d", r.status)
	}
	// A bad role changes nothing.
	if r := consoleDo(t, a, "POST", "/console/staff/"+owner+"/role", newcomer, url.Values{"role": {"admin"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("bad role: %d", r.status)
	}

	// Removed, the first owner's session is refused at once, their
	// clients left unassigned.
	ana := enrolByEmail(t, a, key, "Ana", "ana@client.test")
	staffCLI(t, a, "assign", "--clinic", cid, "--staff", owner, "--client", ana)
	if r := consoleDo(t, a, "POST", "/console/staff/"+owner+"/remove", newcomer, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("remove: %d", r.status)
	}
	if r := consoleDo(t, a, "GET", "/console/clients", s, nil); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/console/sign-in") {
		t.Errorf("the removed member's session: %d %q", r.status, r.location)
	}
	if by, _ := a.st.AssignedTo(ctx, cid, ana); by != "" {
		t.Errorf("Ana is still assigned to %q", by)
	}
	if _, err := a.st.StaffByEmail(ctx, "owner@o.test"); err == nil {
		t.Errorf("the removed member is still staff")
	}

	log := auditActions(t, a, cid)
	for want, n := range map[string]int{
		"owner@o.test staff.invite": 1,
		"owner@o.test staff.role":   1,
		"new@o.test staff.role":     1,
		"new@o.test staff.remove":   1,
	} {
		if got := count(log, want); got != n {
			t.Errorf("%d × %q in the audit log, want %d: %q", got, want, n, log)
		}
	}
}

func TestConsoleOwnerSettings(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic P")
	addStaff(t, a, cid, "owner@p.test", "owner")
	s := signIn(t, a, "owner@p.test", 1)

	if r := consoleDo(t, a, "GET", "/console/settings", s, nil); r.status != http.StatusOK || !strings.Contains(r.body, `id="idle_minutes"`) {
		t.Fatalf("settings page: %d", r.status)
	}
	before, _ := a.st.Clinic(ctx, cid)
	// Bad input: the page again, with the message by the field and what
	// was typed; nothing stored.
	for _, bad := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"display_name": {"Calm"}, "sign_off": {"Team"}, "crisis_text": {""}, "cap_day": {"5"}, "cap_week": {"6"}}, "cap_day"},
		{url.Values{"display_name": {"Calm"}, "sign_off": {"Team"}, "crisis_text": {""}, "cap_day": {"one"}, "cap_week": {"3"}}, "cap_day"},
		{url.Values{"display_name": {strings.Repeat("x", 41)}, "sign_off": {"Team"}, "crisis_text": {""}, "cap_day": {"1"}, "cap_week": {"3"}}, "display_name"},
		{url.Values{"display_name": {"Calm"}, "sign_off": {"Team"}, "crisis_text": {"Llámanos 🙂"}, "cap_day": {"1"}, "cap_week": {"3"}}, "crisis_text"},
	} {
		r := consoleDo(t, a, "POST", "/console/settings", s, bad.form)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="`+bad.field+`-error"`) || !strings.Contains(r.body, `aria-describedby="`+bad.field+`-error"`) {
			t.Errorf("%v: %d, no error by %s", bad.form, r.status, bad.field)
		}
	}
	// A zone that does not exist: the message by the field, and what was typed.
	r := consoleDo(t, a, "POST", "/console/settings", s, url.Values{"display_name": {"Calm"}, "sign_off": {"Team"}, "crisis_text": {""}, "cap_day": {"1"}, "cap_week": {"3"}, "time_zone": {"Mars/Olympus_Mons"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="time_zone-error"`) || !strings.Contains(r.body, `value="Mars/Olympus_Mons"`) {
		t.Errorf("unknown zone: %d, no error by the field", r.status)
	}
	if after, _ := a.st.Clinic(ctx, cid); after != before {
		t.Errorf("refused settings were stored: %+v", after)
	}
	r = consoleDo(t, a, "POST", "/console/settings", s, url.Values{"display_name": {"Calm Care"}, "sign_off": {"The Calm team"}, "crisis_text": {"Out of hours: 555 0199"}, "cap_day": {"2"}, "cap_week": {"5"}, "time_zone": {" Europe/London "}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.status, r.body)
	}
	if c, _ := a.st.Clinic(ctx, cid); c.DisplayName != "Calm Care" || c.SignOff != "The Calm team" || c.CrisisText != "Out of hours: 555 0199" || c.CapDay != 2 || c.CapWeek != 5 || c.TimeZone != "Europe/London" {
		t.Errorf("stored: %+v", c)
	}

	// The console's rules.
	if r := consoleDo(t, a, "POST", "/console/settings/console", s, url.Values{"idle_minutes": {"5"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="idle_minutes-error"`) {
		t.Errorf("idle 5: %d", r.status)
	}
	if cs, _ := a.st.ConsoleSettingsOf(ctx, cid); cs.IdleMinutes != 30 {
		t.Errorf("idle after a refused change: %d", cs.IdleMinutes)
	}

	// Webhook: a bad URL is refused by its field; turning it on shows a
	// new secret once, rotating shows another; neither reaches the log.
	if r := consoleDo(t, a, "POST", "/console/settings/webhook", s, url.Values{"webhook_url": {"ftp://hooks.p.test/x"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="webhook_url-error"`) {
		t.Errorf("bad webhook: %d", r.status)
	}
	r = consoleDo(t, a, "POST", "/console/settings/webhook", s, url.Values{"webhook_url": {"https://hooks.p.test/nudge"}})
	m := shownOnceRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("webhook on: %d", r.status)
	}
	first := m[1]
	if got, _ := a.st.ClinicWebhookSecret(ctx, cid); got != first {
		t.Errorf("the secret shown is not the one stored")
	}
	if r := consoleDo(t, a, "GET", "/console/settings", s, nil); strings.Contains(r.body, first) {
		t.Errorf("the secret is shown again")
	}
	r = consoleDo(t, a, "POST", "/console/settings/webhook/rotate", s, url.Values{})
	m = shownOnceRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil || m[1] == first {
		t.Fatalf("rotate: %d", r.status)
	}
	if got, _ := a.st.ClinicWebhookSecret(ctx, cid); got != m[1] {
		t.Errorf("the rotated secret is not stored")
	}
	secrets := []string{first, m[1]}

	// API keys: made and shown once, working, then revoked.
	r = consoleDo(t, a, "POST", "/console/settings/keys", s, url.Values{})
	m = shownOnceRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("new key: %d", r.status)
	}
	newKey := m[1]
	secrets = append(secrets, newKey)
	callAPI(t, a.base, newKey, "GET", "/api/v1/clients", nil, http.StatusOK)
	keyID := strings.SplitN(strings.TrimPrefix(newKey, "nk_"), "_", 2)[0]
	if r := consoleDo(t, a, "POST", "/console/settings/keys/"+keyID+"/revoke", s, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.status)
	}
	callAPI(t, a.base, newKey, "GET", "/api/v1/clients", nil, http.StatusUnauthorized)
	callAPI(t, a.base, key, "GET", "/api/v1/clients", nil, http.StatusOK)

	log := auditActions(t, a, cid)
	for want, n := range map[string]int{
		"owner@p.test settings.change": 1, "owner@p.test webhook.set": 1, "owner@p.test webhook.rotate": 1,
		"owner@p.test apikey.create": 1, "owner@p.test apikey.revoke": 1, "owner@p.test settings.console": 0,
	} {
		if got := count(log, want); got != n {
			t.Errorf("%d × %q in the audit log, want %d: %q", got, want, n, log)
		}
	}
	raw, _ := a.st.AuditLog(ctx, cid, 1000)
	for _, e := range raw {
		for _, secret := range secrets {
			if strings.Contains(e.Detail, secret) || strings.Contains(e.Detail, secret[len(secret)-12:]) {
				t.Errorf("a secret in the audit log: %+v", e)
			}
		}
	}
}

// TestConsoleOwnerRoutesAreOwnersOnly: a clinician gets the 404 of a
// missing page on every owner route; another clinic's owner, with this
// clinic's staff and key ids, gets the 404 of a missing id; nothing changes.
func TestConsoleOwnerRoutesAreOwnersOnly(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()
	cidA, keyA := newClinic(t, a, "Clinic A")
	cidB, _ := newClinic(t, a, "Clinic B")
	ownerA := addStaff(t, a, cidA, "owner@a.test", "owner")
	clin := addStaff(t, a, cidA, "clin@a.test", "clinician")
	addStaff(t, a, cidB, "owner@b.test", "owner")
	keys, _ := a.st.APIKeys(ctx, cidA)
	keyID := keys[0].ID
	sClin := signIn(t, a, "clin@a.test", 1)
	sB := signIn(t, a, "owner@b.test", 1)
	missing := store.NewID()

	type probe struct {
		method, path string
		form         url.Values
	}
	withIDs := func(staff, key string) []probe {
		return []probe{
			{"POST", "/console/staff/" + staff + "/role", url.Values{"role": {"clinician"}}},
			{"POST", "/console/staff/" + staff + "/remove", url.Values{}},
			{"POST", "/console/staff/" + staff + "/totp-reset", url.Values{}},
			{"POST", "/console/settings/keys/" + key + "/revoke", url.Values{}},
		}
	}
	ownerRoutes := append([]probe{
		{"GET", "/console/staff", nil},
		{"POST", "/console/staff", url.Values{"email": {"sneak@a.test"}, "role": {"owner"}}},
		{"GET", "/console/settings", nil},
		{"POST", "/console/settings", url.Values{"display_name": {"Hacked"}, "sign_off": {"x"}, "cap_day": {"1"}, "cap_week": {"3"}}},
		{"POST", "/console/settings/console", url.Values{"idle_minutes": {"60"}}},
		{"POST", "/console/settings/webhook", url.Values{"webhook_url": {"https://evil.test/x"}}},
		{"POST", "/console/settings/webhook/rotate", url.Values{}},
		{"POST", "/console/settings/keys", url.Values{}},
		{"GET", "/console/audit.csv", nil},
	}, withIDs(ownerA, keyID)...)
	// The audit log is an owners' page from before: its 404 is the one.
	want := consoleDo(t, a, "GET", "/console/audit", sClin, nil)
	for _, p := range ownerRoutes {
		got := consoleDo(t, a, p.method, p.path, sClin, p.form)
		if got.status != http.StatusNotFound || strings.ReplaceAll(got.body, p.path, "X") != strings.ReplaceAll(want.body, "/console/audit", "X") {
			t.Errorf("clinician %s %s: %d, want the 404 of a missing page", p.method, p.path, got.status)
		}
	}
	missingAnswers := withIDs(missing, missing)
	for i, p := range withIDs(ownerA, keyID) {
		m := consoleDo(t, a, missingAnswers[i].method, missingAnswers[i].path, sB, missingAnswers[i].form)
		got := consoleDo(t, a, p.method, p.path, sB, p.form)
		if got.status != http.StatusNotFound || strings.NewReplacer(ownerA, "X", keyID, "X").Replace(got.body) != strings.ReplaceAll(m.body, missing, "X") {
			t.Errorf("B %s %s: %d, want the missing id's 404", p.method, p.path, got.status)
		}
	}
	// B's own staff page does not list A's staff.
	if r := consoleDo(t, a, "GET", "/console/staff", sB, nil); strings.Contains(r.body, "a.test") {
		t.Errorf("B's staff page shows A's staff")
	}
	// Nothing changed in A.
	if st, err := a.st.StaffMember(ctx, ownerA); err != nil || st.Role != store.RoleOwner {
		t.Errorf("A's owner: %+v %v", st, err)
	}
	if st, err := a.st.StaffMember(ctx, clin); err != nil || st.Role != store.RoleClinician {
		t.Errorf("A's clinician: %+v %v", st, err)
	}
	if _, err := a.st.StaffByEmail(ctx, "sneak@a.test"); err == nil {
		t.Errorf("a clinician invited someone")
	}
	if c, _ := a.st.Clinic(ctx, cidA); c.DisplayName == "Hacked" || c.WebhookURL != "" {
		t.Errorf("A's settings changed: %+v", c)
	}
	if cs, _ := a.st.ConsoleSettingsOf(ctx, cidA); cs.IdleMinutes != 30 {
		t.Errorf("A's idle limit changed to %d", cs.IdleMinutes)
	}
	if ks, _ := a.st.APIKeys(ctx, cidA); len(ks) != 1 || !ks[0].RevokedAt.IsZero() {
		t.Errorf("A's keys: %+v", ks)
	}
	callAPI(t, a.base, keyA, "GET", "/api/v1/clients", nil, http.StatusOK)
	for _, l := range auditActions(t, a, cidA) {
		if strings.Contains(l, "@b.test") || strings.HasPrefix(l, "clin@a.test staff.") || strings.HasPrefix(l, "clin@a.test settings") || strings.HasPrefix(l, "clin@a.test audit") {
			t.Errorf("a refused request in A's audit log: %q", l)
		}
	}
}

func TestConsoleIdleLimitIsTheClinics(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	cid, _ := newClinic(t, a, "Clinic I")
	addStaff(t, a, cid, "owner@i.test", "owner")
	addStaff(t, a, cid, "dr@i.test", "clinician")
	s := signIn(t, a, "owner@i.test", 1)
	if r := consoleDo(t, a, "POST", "/console/settings/console", s, url.Values{"idle_minutes": {"10"}}); r.status != http.StatusSeeOther {
		t.Fatalf("set 10 minutes: %d %s", r.status, r.body)
	}
	ok := func(session string) bool {
		return consoleDo(t, a, "GET", "/console/clients", session, nil).status == http.StatusOK
	}
	dr := signIn(t, a, "dr@i.test", 1)
	a.clk.Set(a.clk.Now().Add(9 * time.Minute))
	if !ok(dr) {
		t.Fatal("refused after 9 idle minutes")
	}
	a.clk.Set(a.clk.Now().Add(9 * time.Minute))
	if !ok(dr) {
		t.Fatal("refused after another 9 idle minutes, 18 in all")
	}
	a.clk.Set(a.clk.Now().Add(11 * time.Minute))
	if ok(dr) {
		t.Fatal("accepted after 11 idle minutes")
	}
	if ok(s) {
		t.Fatal("the owner's session, idle 29 minutes, accepted")
	}
	log := auditActions(t, a, cid)
	if count(log, "owner@i.test settings.console") != 1 {
		t.Errorf("the change is not in the audit log once: %q", log)
	}
}

// TestConsoleTOTP: a staff member enrols from their own page; then the
// link leads to a code page, not a session; a wrong code is refused, the
// right one signs in, the same code again is refused; five tries and the
// sign-in starts over; a clinic requiring the second factor sends a member
// without one to enrol before anything else.
func TestConsoleTOTP(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()
	cid, _ := newClinic(t, a, "Clinic Z")
	owner := addStaff(t, a, cid, "owner@z.test", "owner")
	dr := addStaff(t, a, cid, "dr@z.test", "clinician")
	s := signIn(t, a, "owner@z.test", 1)
	s0 := s

	if r := consoleDo(t, a, "POST", "/console/totp/start", s, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("start: %d", r.status)
	}
	page := consoleDo(t, a, "GET", "/console/totp", s, nil)
	secret := secretOn(t, page.body)
	if !strings.Contains(page.body, "otpauth://totp/nudge:owner@z.test?") {
		t.Errorf("no otpauth URI on the page")
	}
	if raw, _ := a.st.StaffTOTPOf(ctx, owner); strings.Contains(raw.Pending, base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)) {
		t.Errorf("the secret is stored in the clear")
	}
	wrong := fmt.Sprintf("%06d", (atoi(totpAt(secret, a.clk.Now()))+1)%1000000)
	if r := consoleDo(t, a, "POST", "/console/totp/confirm", s, url.Values{"code": {wrong}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="code-error"`) {
		t.Errorf("wrong code at enrolment: %d", r.status)
	}
	if tf, _ := a.st.StaffTOTPOf(ctx, owner); tf.On {
		t.Fatal("on after a wrong code")
	}
	if r := consoleDo(t, a, "POST", "/console/totp/confirm", s, url.Values{"code": {totpAt(secret, a.clk.Now())}}); r.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if tf, _ := a.st.StaffTOTPOf(ctx, owner); !tf.On {
		t.Fatal("not on after the right code")
	}

	// The link now leads to the code page; no session yet.
	r, set := openLink(t, a, "owner@z.test", 2)
	if r.status != http.StatusSeeOther || r.cookie != nil || set[pendingCookie] == "" || r.location != "/console/sign-in/code" {
		t.Fatalf("link with a second factor: %d %q, session %v", r.status, r.location, r.cookie)
	}
	pend := map[string]string{pendingCookie: set[pendingCookie]}
	if r := consoleDo(t, a, "GET", "/console/clients", "", nil); r.status != http.StatusSeeOther {
		t.Errorf("signed in without the code")
	}
	if r, _ := cookieDo(t, a, "GET", "/console/sign-in/code", pend, nil, nil); r.status != http.StatusOK || !strings.Contains(r.body, `id="code"`) {
		t.Fatalf("code page: %d", r.status)
	}
	// The code used at enrolment, in the same 30 seconds, is refused.
	used := totpAt(secret, a.clk.Now())
	if r, _ := cookieDo(t, a, "POST", "/console/sign-in/code", pend, url.Values{"code": {used}}, nil); r.status != http.StatusUnprocessableEntity || r.cookie != nil {
		t.Errorf("the enrolment's code again: %d", r.status)
	}
	if r, _ := cookieDo(t, a, "POST", "/console/sign-in/code", pend, url.Values{"code": {wrong}}, nil); r.status != http.StatusUnprocessableEntity || r.cookie != nil {
		t.Errorf("wrong code: %d", r.status)
	}
	a.clk.Set(a.clk.Now().Add(30 * time.Second))
	code := totpAt(secret, a.clk.Now())
	r, _ = cookieDo(t, a, "POST", "/console/sign-in/code", pend, url.Values{"code": {code}}, nil)
	if r.status != http.StatusSeeOther || r.cookie == nil || r.location != "/console/clients" {
		t.Fatalf("right code: %d %q %s", r.status, r.location, r.body)
	}
	if p := consoleDo(t, a, "GET", "/console/clients", r.cookie.Value, nil); p.status != http.StatusOK {
		t.Fatalf("the session after the code: %d", p.status)
	}
	// The pending sign-in is spent.
	if r, _ := cookieDo(t, a, "POST", "/console/sign-in/code", pend, url.Values{"code": {code}}, nil); r.status != http.StatusNotFound || r.cookie != nil {
		t.Errorf("the pending sign-in used again: %d", r.status)
	}
	// A new link, the same code (a replay within its 30 s): refused.
	r, set = openLink(t, a, "owner@z.test", 3)
	pend = map[string]string{pendingCookie: set[pendingCookie]}
	if r, _ := cookieDo(t, a, "POST", "/console/sign-in/code", pend, url.Values{"code": {code}}, nil); r.status != http.StatusUnprocessableEntity || r.cookie != nil {
		t.Errorf("replayed code: %d", r.status)
	}
	// Five tries in all, then start over: even the right code is refused.
	for range 4 {
		cookieDo(t, a, "POST", "/console/sign-in/code", pend, url.Values{"code": {wrong}}, nil)
	}
	a.clk.Set(a.clk.Now().Add(30 * time.Second))
	if r, _ := cookieDo(t, a, "POST", "/console/sign-in/code", pend, url.Values{"code": {totpAt(secret, a.clk.Now())}}, nil); r.status != http.StatusTooManyRequests || r.cookie != nil {
		t.Errorf("sixth try: %d", r.status)
	}

	// The clinic requires a second factor: the clinician, without one, is
	// sent from the link to enrol, and cannot sign in without doing so.
	s = signIn(t, a, "dr@z.test", 1)
	if r := consoleDo(t, a, "GET", "/console/clients", s, nil); r.status != http.StatusOK {
		t.Fatalf("clinician before the rule: %d", r.status)
	}
	// The owner's first session is still live (links have a budget per
	// address): the rule is set there.
	if r := consoleDo(t, a, "POST", "/console/settings/console", s0, url.Values{"idle_minutes": {"30"}, "require_totp": {"on"}}); r.status != http.StatusSeeOther {
		t.Fatalf("require: %d", r.status)
	}
	// The clinician's live session now leads only to enrolment.
	if r := consoleDo(t, a, "GET", "/console/clients", s, nil); r.status != http.StatusSeeOther || r.location != "/console/totp" {
		t.Errorf("clinician's session under the rule: %d %q", r.status, r.location)
	}
	r, set = openLink(t, a, "dr@z.test", 2)
	if r.status != http.StatusSeeOther || r.cookie != nil || r.location != "/console/sign-in/enrol" {
		t.Fatalf("link under the rule: %d %q", r.status, r.location)
	}
	pend = map[string]string{pendingCookie: set[pendingCookie]}
	enrol, _ := cookieDo(t, a, "GET", "/console/sign-in/enrol", pend, nil, nil)
	drSecret := secretOn(t, enrol.body)
	if r, _ := cookieDo(t, a, "POST", "/console/sign-in/enrol", pend, url.Values{"code": {"000000"}}, nil); r.status != http.StatusUnprocessableEntity || r.cookie != nil {
		if totpAt(drSecret, a.clk.Now()) != "000000" {
			t.Errorf("wrong enrolment code: %d", r.status)
		}
	}
	r, _ = cookieDo(t, a, "POST", "/console/sign-in/enrol", pend, url.Values{"code": {totpAt(drSecret, a.clk.Now())}}, nil)
	if r.status != http.StatusSeeOther || r.cookie == nil {
		t.Fatalf("enrol at sign-in: %d %s", r.status, r.body)
	}
	if p := consoleDo(t, a, "GET", "/console/clients", r.cookie.Value, nil); p.status != http.StatusOK {
		t.Errorf("clinician after enrolling: %d", p.status)
	}
	if tf, _ := a.st.StaffTOTPOf(ctx, dr); !tf.On {
		t.Errorf("the clinician's second factor is not on")
	}
	// Off is refused while the clinic requires it.
	if r := consoleDo(t, a, "POST", "/console/totp/off", r.cookie.Value, url.Values{}); r.status != http.StatusConflict {
		t.Errorf("off under the rule: %d", r.status)
	}

	log := auditActions(t, a, cid)
	for want, n := range map[string]int{
		"owner@z.test totp.on":              1,
		"dr@z.test totp.on":                 1,
		"owner@z.test sign-in.code-refused": 7,
		"owner@z.test totp.code-refused":    1,
		"owner@z.test sign-in.failed":       1,
	} {
		if got := count(log, want); got != n {
			t.Errorf("%d × %q in the audit log, want %d: %q", got, want, n, log)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// TestConsoleAuditCSV: every entry kept, each action once under its actor,
// no cell a spreadsheet would run, the export itself in the log.
func TestConsoleAuditCSV(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic C")
	addStaff(t, a, cid, "owner@c.test", "owner")
	dr := addStaff(t, a, cid, "dr@c.test", "clinician")
	ana := enrolByEmail(t, a, key, "Ana", "ana@client.test")
	staffCLI(t, a, "assign", "--clinic", cid, "--staff", dr, "--client", ana)
	// An entry from 399 days ago is kept; a detail that would be a formula.
	old := store.AuditEntry{At: a.clk.Now().Add(-399 * 24 * time.Hour), Staff: dr, Email: "dr@c.test", Action: "client.view", Client: ana, Detail: `=HYPERLINK("https://evil.test")`}
	if err := a.st.Audit(ctx, cid, old); err != nil {
		t.Fatal(err)
	}
	s := signIn(t, a, "owner@c.test", 1)
	sd := signIn(t, a, "dr@c.test", 1)
	consoleDo(t, a, "GET", "/console/clients/"+ana, sd, nil)
	consoleDo(t, a, "POST", "/console/clients/"+ana+"/pause", s, url.Values{"days": {"7"}})

	r := consoleDo(t, a, "GET", "/console/audit.csv", s, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("export: %d %v", r.status, r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "at,staff_id,staff_email,action,client_id,detail,ip" {
		t.Errorf("header %v", rows[0])
	}
	var got []string
	for _, row := range rows[1:] {
		got = append(got, row[2]+" "+row[3]+" "+row[4])
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("a formula cell: %q", cell)
			}
		}
		if strings.Contains(row[5], "HYPERLINK") && row[5] != `'=HYPERLINK("https://evil.test")` {
			t.Errorf("the formula's cell: %q", row[5])
		}
	}
	for want, n := range map[string]int{
		"dr@c.test client.view " + ana:     2, // the old one and today's
		"owner@c.test client.pause " + ana: 1,
		"owner@c.test sign-in ":            1,
		"dr@c.test sign-in ":               1,
		"owner@c.test audit.export ":       1,
	} {
		if c := count(got, want); c != n {
			t.Errorf("%d × %q in the export, want %d: %q", c, want, n, got)
		}
	}
	if len(rows)-1 != len(auditActions(t, a, cid)) {
		t.Errorf("%d rows, %d entries", len(rows)-1, len(auditActions(t, a, cid)))
	}
	if strings.Contains(r.body, "ana@client.test") {
		t.Errorf("a client's address in the export")
	}
	// A day past 400, the old entry is gone at the next write.
	a.clk.Set(a.clk.Now().Add(2 * 24 * time.Hour))
	s = signIn(t, a, "owner@c.test", 2)
	r = consoleDo(t, a, "GET", "/console/audit.csv", s, nil)
	if strings.Contains(r.body, "HYPERLINK") {
		t.Errorf("an entry older than 400 days is exported")
	}
}

// TestConsoleClientIPBehindProxies: behind a trusted proxy, the audit log
// has the address the proxy forwarded for; a header from anyone else is
// not believed.
func TestConsoleClientIPBehindProxies(t *testing.T) {
	a := startSMSAppWith(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB", map[string]string{"NUDGE_TRUSTED_PROXIES": "127.0.0.1"})
	cid, _ := newClinic(t, a, "Clinic X")
	addStaff(t, a, cid, "owner@x.test", "owner")
	fwd := http.Header{"X-Forwarded-For": {"198.51.100.7"}}
	if r, _ := cookieDo(t, a, "POST", "/console/sign-in", nil, url.Values{"email": {"owner@x.test"}}, fwd); r.status != http.StatusOK {
		t.Fatalf("ask: %d", r.status)
	}
	es, _ := a.st.AuditLog(context.Background(), cid, 10)
	if len(es) != 1 || es[0].IP != "198.51.100.7" {
		t.Errorf("audit entries %+v, want the forwarded address", es)
	}

	b := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	cid, _ = newClinic(t, b, "Clinic Y")
	addStaff(t, b, cid, "owner@y.test", "owner")
	cookieDo(t, b, "POST", "/console/sign-in", nil, url.Values{"email": {"owner@y.test"}}, fwd)
	es, _ = b.st.AuditLog(context.Background(), cid, 10)
	if len(es) != 1 || es[0].IP != "127.0.0.1" {
		t.Errorf("audit entries %+v, want the peer's address", es)
	}
}

// TestConsoleOwnerPagesInTheBrowser visits the staff, settings and
// second-factor pages (and the code page of a sign-in) in Chromium, in
// English and Spanish; axe-core finds nothing serious on any.
func TestConsoleOwnerPagesInTheBrowser(t *testing.T) {
	axe := axetest.Source(t)
	c := startChromium(t)
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	cid, _ := newClinic(t, a, "Clinic W")
	addStaff(t, a, cid, "owner@w.test", "owner")
	addStaff(t, a, cid, "dr@w.test", "clinician")

	var secret []byte
	for i, lang := range []string{"en", "es"} {
		b := c.tab(t)
		b.open(a.base + "/console/sign-in?lang=" + lang)
		askLink(t, a, "owner@w.test")
		b.open(a.base + waitLinks(t, a, "owner@w.test", i+1) + "?lang=" + lang)
		b.press(`main button[type="submit"]`)
		if secret != nil {
			// The second time, the link leads to the code page.
			if got := b.attr("html", "lang"); got != lang {
				t.Errorf("code page lang %q", got)
			}
			b.axeClean(axe, lang+" code page")
			b.do("type a wrong code", chromedp.SendKeys(chromedp.ID("code"), "000000"))
			b.press(`main button[type="submit"]`)
			b.axeClean(axe, lang+" code page with an error")
			b.do("type the code", chromedp.SendKeys(chromedp.ID("code"), totpAt(secret, a.clk.Now().Add(30*time.Second))))
			a.clk.Set(a.clk.Now().Add(30 * time.Second))
			b.press(`main button[type="submit"]`)
		}
		if got := b.text("h1"); got != map[string]string{"en": "Clients", "es": "Clientes"}[lang] {
			t.Fatalf("%s: signed in to %q", lang, got)
		}
		b.press(`nav a[href^="/console/staff"]`)
		b.axeClean(axe, lang+" staff")
		b.do("type an address", chromedp.SendKeys(chromedp.ID("email"), "not an address"))
		if status := b.press(`form[action^="/console/staff?"] button`); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: bad invite = %d", lang, status)
		}
		b.axeClean(axe, lang+" staff with an error")
		b.press(`nav a[href^="/console/settings"]`)
		b.axeClean(axe, lang+" settings")
		b.do("type a bad idle limit", chromedp.SetValue(chromedp.ID("idle_minutes"), "5"))
		if status := b.press(`form[action^="/console/settings/console"] button`); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: bad idle = %d", lang, status)
		}
		b.axeClean(axe, lang+" settings with an error")
		b.press(`form[action^="/console/settings/keys"] button`)
		b.axeClean(axe, lang+" settings with a new key")
		b.press(`nav a[href^="/console/totp"]`)
		b.axeClean(axe, lang+" second factor")
		if secret == nil {
			b.press(`form[action^="/console/totp/start"] button`)
			b.axeClean(axe, lang+" second factor setup")
			secret = secretOn(t, get(b, "read the page", chromedp.OuterHTML("html")))
			b.do("type the code", chromedp.SendKeys(chromedp.ID("code"), totpAt(secret, a.clk.Now())))
			b.press(`form[action^="/console/totp/confirm"] button`)
			b.axeClean(axe, lang+" second factor on")
		}
	}
	if tf, _ := a.st.StaffTOTPOf(context.Background(), mustStaff(t, a, "owner@w.test")); !tf.On {
		t.Errorf("the owner's second factor is not on")
	}
}

func mustStaff(t *testing.T, a *smsApp, addr string) string {
	t.Helper()
	st, err := a.st.StaffByEmail(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return st.ID
}
