package render

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/templates"
)

// mailpitVersion is the mailpit whose HTML check the layout is measured
// with; `make tools` installs it.
const mailpitVersion = "v1.33.1"

// minHTMLScore is the least share of the layout, in percent, that mailpit's
// HTML compatibility check may find supported by the mail clients it knows.
const minHTMLScore = 90

// TestHTMLCompatibility sends each variant of the email layout to a real
// mailpit and asks its HTML check (caniemail.com's data) how well mail
// clients support it.
func TestHTMLCompatibility(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t)

	lib, err := templates.Default()
	if err != nil {
		t.Fatalf("the embedded library does not load:\n%v", err)
	}
	r := testRenderer(lib)
	weekly, err := lib.Pick(domain.WeeklyCheckin, "en", 0)
	if err != nil {
		t.Fatal(err)
	}
	confirm, err := lib.System(templates.Confirm, "en")
	if err != nil {
		t.Fatal(err)
	}
	spanish, err := lib.Pick(domain.Gratitude, "es", 2)
	if err != nil {
		t.Fatal(err)
	}
	withButton := testLinks
	withButton.Action, withButton.ActionLabel = "https://nudge.example/confirm/tok-c", "Yes, send me these"
	monthly, err := lib.Pick(domain.MonthlyReview, "en", 0)
	if err != nil {
		t.Fatal(err)
	}
	clinicConfirm, err := lib.System(templates.ClinicConfirm, "en")
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		m     *templates.Message
		data  Data
		links Links
	}{
		{"weekly check-in (en)", weekly, Data{FirstName: "Sam", Goal: "call my sister more", Week: 3}, testLinks},
		{"confirm with its button (en)", confirm, Data{FirstName: "Sam"}, withButton},
		{"gratitude prompt (es)", spanish, Data{FirstName: "Lucía", Week: 5}, testLinks},
		{"a clinic's confirmation, signed (en)", clinicConfirm, Data{FirstName: "Sam", Sender: "Northside", SignOff: "Your care team"}, withButton},
		{"weekly check-in with its answer links (en)", weekly, Data{FirstName: "Sam", Week: 3, InviteAnswer: true}, answerTestLinks},
		{"monthly review with its chart (en)", monthly, Data{FirstName: "Sam", Month: monthOf(5, []int{3, 4, 0, 5, 2}, true)}, testLinks},
	}
	for i, tc := range cases {
		e, err := r.Email(tc.m, tc.data, tc.links)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		messageID := fmt.Sprintf("htmlcheck-%d-%d@nudge.example", i, time.Now().UnixNano())
		if err := mp.send(messageID, e); err != nil {
			t.Fatalf("%s: send to mailpit: %v", tc.name, err)
		}
		id, err := mp.find(messageID)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		check, err := mp.htmlCheck(id)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		tot := check.Total
		t.Logf("%s: mailpit HTML check %.2f%% supported, %.2f%% partial, %.2f%% unsupported (%d tests, %d nodes)",
			tc.name, tot.Supported, tot.Partial, tot.Unsupported, tot.Tests, tot.Nodes)
		for _, w := range check.Warnings {
			if w.Score.Found > 0 && (w.Score.Partial > 0 || w.Score.Unsupported > 0) {
				t.Logf("  %s (%s), found %d: %.0f%% partial, %.0f%% unsupported", w.Title, w.Slug, w.Score.Found, w.Score.Partial, w.Score.Unsupported)
			}
		}
		if tot.Tests == 0 || tot.Nodes == 0 {
			t.Errorf("%s: mailpit ran %d tests over %d nodes: did it see the HTML part?", tc.name, tot.Tests, tot.Nodes)
		}
		if tot.Supported < minHTMLScore {
			t.Errorf("%s: HTML compatibility %.2f%%, want at least %d%% (the warnings above say what to change in layout.html)",
				tc.name, tot.Supported, minHTMLScore)
		}
	}
}

// mailpit is a mailpit process started for one test.
type mailpit struct {
	smtpAddr string
	api      string // http://127.0.0.1:port
	client   *http.Client
}

// htmlCheckResult is the part of mailpit's html-check answer the test reads.
type htmlCheckResult struct {
	Total struct {
		Nodes       int
		Tests       int
		Supported   float64
		Partial     float64
		Unsupported float64
	}
	Warnings []struct {
		Slug, Title string
		Score       struct {
			Found                           int
			Supported, Partial, Unsupported float64
		}
	}
}

// mailpitBinary finds the mailpit executable: on PATH, else where go install
// puts it ($GOBIN, or the bin directory of $GOPATH).
func mailpitBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(string(out), "\n")
		if len(lines) >= 2 {
			if gobin := strings.TrimSpace(lines[0]); gobin != "" {
				dirs = append(dirs, gobin)
			}
			for _, dir := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(dir, "bin"))
			}
		}
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, "mailpit")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("mailpit not found on PATH or in $(go env GOPATH)/bin: run `go install github.com/axllent/mailpit@%s` (or `make tools`)", mailpitVersion)
	return ""
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMailpit runs mailpit on free loopback ports with its own database,
// waits until it is ready, and stops it (kill, then wait) when the test ends.
func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	dir := t.TempDir()
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))

	var logs bytes.Buffer
	cmd := exec.Command(bin,
		"--smtp", smtpAddr,
		"--listen", httpAddr,
		"--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check",
		"--smtp-disable-rdns",
		"--quiet",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	mp := &mailpit{smtpAddr: smtpAddr, api: "http://" + httpAddr, client: &http.Client{Timeout: 10 * time.Second}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("mailpit exited before it was ready (%v):\n%s", err, logs.String())
		default:
		}
		if resp, err := mp.client.Get(mp.api + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				var info struct{ Version string }
				if err := mp.getJSON("/api/v1/info", &info); err != nil {
					t.Fatalf("mailpit info: %v", err)
				}
				t.Logf("mailpit %s (measured with %s)", info.Version, mailpitVersion)
				return mp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit was not ready after 30s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// send delivers e over SMTP as a multipart/alternative message, as nudge
// sends it.
func (mp *mailpit) send(messageID string, e Email) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ typ, content string }{
		{"text/plain; charset=utf-8", e.Text},
		{"text/html; charset=utf-8", e.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(strings.ReplaceAll(part.content, "\n", "\r\n"))); err != nil {
			return err
		}
		if err := qp.Close(); err != nil {
			return err
		}
	}
	if err := mw.Close(); err != nil {
		return err
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: nudge <nudge@nudge.example>\r\n")
	fmt.Fprintf(&msg, "To: sam@nudge.example\r\n")
	fmt.Fprintf(&msg, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", e.Subject))
	fmt.Fprintf(&msg, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&msg, "Message-ID: <%s>\r\n", messageID)
	fmt.Fprintf(&msg, "MIME-Version: 1.0\r\n")
	fmt.Fprintf(&msg, "Content-Type: multipart/alternative; boundary=%q\r\n\r\n", mw.Boundary())
	msg.Write(body.Bytes())
	return smtp.SendMail(mp.smtpAddr, nil, "nudge@nudge.example", []string{"sam@nudge.example"}, msg.Bytes())
}

// find returns mailpit's id of the message with messageID.
func (mp *mailpit) find(messageID string) (string, error) {
	var list struct {
		Messages []struct{ ID, MessageID string }
	}
	for range 50 {
		if err := mp.getJSON("/api/v1/messages?limit=100", &list); err != nil {
			return "", err
		}
		for _, m := range list.Messages {
			if m.MessageID == messageID {
				return m.ID, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("mailpit does not list message <%s>", messageID)
}

// htmlCheck runs mailpit's HTML compatibility check on message id.
func (mp *mailpit) htmlCheck(id string) (htmlCheckResult, error) {
	var res htmlCheckResult
	err := mp.getJSON("/api/v1/message/"+id+"/html-check", &res)
	return res, err
}

func (mp *mailpit) getJSON(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, mp.api+path, nil)
	if err != nil {
		return err
	}
	resp, err := mp.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(b.String()))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}
