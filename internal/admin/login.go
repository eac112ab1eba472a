package admin

import (
	"html/template"
	"net/http"
	"time"
)

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>nudge admin: sign in</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; color: #1d2330; }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; border: 1px solid #8a93a6; border-radius: 4px; }
button { margin-top: 1rem; padding: .5rem 1.25rem; font: inherit; border: 0; border-radius: 4px; background: #2a5bd7; color: #fff; cursor: pointer; }
.error { color: #a4161a; font-weight: 600; }
</style>
</head>
<body>
<main>
<h1>nudge admin</h1>
{{if .SignedIn}}
<p>You are signed in.</p>
<p><a href="/admin/queues/">Open the queues</a></p>
<form method="post" action="/admin/logout"><button type="submit">Sign out</button></form>
{{else}}
<p>The queue monitor opens to the admin token (<code>NUDGE_ADMIN_TOKEN</code>).</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/admin/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
{{end}}
</main>
</body>
</html>
`))

type loginData struct {
	SignedIn bool
	Error    string
}

func (h *Handler) renderLogin(w http.ResponseWriter, code int, errMsg string) {
	h.render(w, code, loginData{Error: errMsg})
}

func (h *Handler) render(w http.ResponseWriter, code int, d loginData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := loginPage.Execute(w, d); err != nil {
		h.cfg.Logger.Warn("render admin sign-in page", "err", err)
	}
}

// loginShow shows the sign-in form, or a sign-out button to a signed-in
// operator.
func (h *Handler) loginShow(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(cookieName)
	h.render(w, http.StatusOK, loginData{SignedIn: err == nil && h.sessionValid(c.Value)})
}

// loginCheck compares the typed token and, when it is right, sets the
// session cookie and sends the operator to the queues.
func (h *Handler) loginCheck(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, http.StatusBadRequest, "The form could not be read; try again.")
		return
	}
	if !h.tokenMatches(r.PostForm.Get("token")) {
		h.cfg.Logger.Warn("admin sign-in refused", "reason", "wrong token")
		h.renderLogin(w, http.StatusUnauthorized, "That is not the admin token.")
		return
	}
	exp := h.cfg.Now().Add(SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: h.session(exp), Path: Prefix, Expires: exp, MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteStrictMode,
	})
	h.cfg.Logger.Info("admin signed in")
	http.Redirect(w, r, QueuesPath+"/", http.StatusSeeOther)
}

// logout removes the session cookie from this browser.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, LoginPath, http.StatusSeeOther)
}
