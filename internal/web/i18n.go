package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/scheduler"
)

// The locales every page comes in. English is the fallback.
const (
	english = "en"
	spanish = "es"
)

// texts is one locale's page text.
type texts struct {
	locale string
	m      map[string]string
}

// get returns the text of key, formatted with args when there are any. A
// missing key shows as [[key]], for the tests to find.
func (t texts) get(key string, args ...any) string {
	s, ok := t.m[key]
	if !ok {
		return "[[" + key + "]]"
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// has reports whether key is in the catalogue.
func (t texts) has(key string) bool {
	_, ok := t.m[key]
	return ok
}

// matchLocale returns the page locale for a language tag such as "es",
// "es-MX" or "en_GB", and whether there is one.
func matchLocale(tag string) (string, bool) {
	lang, _, _ := strings.Cut(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(tag)), "_", "-"), "-")
	switch lang {
	case english, spanish:
		return lang, true
	}
	return "", false
}

// storedLocale returns the page locale for a subscriber's stored locale.
func storedLocale(locale string) string {
	if l, ok := matchLocale(locale); ok {
		return l
	}
	return english
}

// requestLocale is the language of a page not tied to a subscriber: ?lang=
// when it names a page locale, else the browser's Accept-Language, else
// English.
func requestLocale(r *http.Request) string {
	if l, ok := matchLocale(r.URL.Query().Get("lang")); ok {
		return l
	}
	if l, ok := acceptLanguage(r.Header.Get("Accept-Language")); ok {
		return l
	}
	return english
}

// acceptLanguage returns the page locale an Accept-Language header prefers
// most (ties go to the one listed first), and whether it names one at all.
func acceptLanguage(header string) (string, bool) {
	best, bestQ := "", 0.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		if l, ok := matchLocale(tag); ok && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best, best != ""
}

// weekdayCodes are the days as the form and the rules write them, in the
// order the form lists them.
func weekdayCodes() []string { return []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} }

// weekdayCode returns the code of d ("sun" for Sunday).
func weekdayCode(d time.Weekday) string {
	return [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[d]
}

// describeRule says a rule in words ("Every Tuesday at 18:30"); a rule it
// cannot say is shown as written.
func describeRule(t texts, rule string) string {
	r, err := scheduler.ParseRule(rule)
	if err != nil {
		return rule
	}
	canonical := r.String()
	kind, rest, _ := strings.Cut(canonical, ":")
	when, _, _ := strings.Cut(rest, "@")
	var day string
	switch {
	case kind == "weekly" && t.has("rule.weekly."+when):
		day = t.get("rule.weekly." + when)
	case kind == "monthly" && t.has("monthday."+when):
		day = t.get("rule.monthly", t.get("monthday."+when))
	default:
		return canonical
	}
	hour, minute := r.LocalTime()
	return t.get(atKey(hour), day, scheduler.WallTime{Hour: hour, Minute: minute}.String())
}

// atKey is the key of "DAY at HH:MM": Spanish says "a la 1:30" but "a las 2:30".
func atKey(hour int) string {
	if hour == 1 {
		return "rule.at_one"
	}
	return "rule.at"
}

// describeTime says an instant in words ("Tuesday 1 December, 18:30"), in
// the zone t is in.
func describeTime(tr texts, t time.Time) string {
	return tr.get("date.at", tr.get("weekday."+weekdayCode(t.Weekday())), t.Day(), tr.get("month."+strconv.Itoa(int(t.Month()))), t.Format("15:04"))
}

// catalogue returns the visible text of every page, per locale, by key. The
// development outbox is English only.
func catalogue() map[string]map[string]string {
	return map[string]map[string]string{
		english: withKeys(withKeys(englishText(), manageEnglish()), answerEnglish()),
		spanish: withKeys(withKeys(spanishText(), manageSpanish()), answerSpanish()),
	}
}

func englishText() map[string]string {
	m := map[string]string{
		"site.footer": "nudge sends small, regular prompts for staying in touch with people. It is not monitored and is not a crisis service: if you are in crisis, call or text your local emergency number.",
		"lang.switch": "Language",

		"signup.title":             "Sign up",
		"signup.heading":           "Small nudges toward the people around you",
		"signup.lede":              "A short note each week, in your own time zone: a check-in, a moment of gratitude, a look back at your month. One small step at a time.",
		"signup.error_summary":     "Please check the fields marked below.",
		"signup.first_name":        "First name",
		"signup.email":             "Email address",
		"signup.tz":                "Time zone",
		"signup.locale":            "Language of the messages",
		"signup.goal":              "Someone you'd like to be closer to: a name or a relationship, like “my sister”",
		"signup.optional":          "(optional)",
		"signup.goal_placeholder":  "my sister",
		"signup.programs":          "What would you like to receive?",
		"signup.weekday":           "Day",
		"signup.monthday":          "Which day of the month",
		"signup.time":              "Time",
		"signup.honeypot":          "Leave this empty",
		"limit.title":              "Please wait a little",
		"limit.body":               "There have been many sign-ups from here in a short time. Please try again in %d minutes.",
		"signup.phone":             "Mobile number, for texts",
		"signup.phone_hint":        "Leave it empty for email only. Give a number and leave the email empty for texts only.",
		"signup.sms_consent":       "Yes, text me the prompts I choose below at this number: up to 3 texts a week, between %s and %s my time. Msg & data rates may apply. Reply STOP to cancel, HELP for help. Consent is not a condition of anything.",
		"error.phone.missing":      "Please enter your mobile number to get texts, or untick the box.",
		"error.phone.invalid":      "Please enter a mobile number like +1 201 555 0123.",
		"error.phone.not_mobile":   "That looks like a landline; texts need a mobile number.",
		"error.phone.country":      "We cannot text numbers from that country yet.",
		"error.sms_consent":        "Tick the box to get texts, or leave the number empty.",
		"error.sms_window":         "Texts only go out between %s and %s your time: please choose a time in that window.",
		"signup.consent":           "By signing up you agree to receive these emails. We will email you once to confirm; nothing else is sent until you do. Every email has a one-click unsubscribe link.",
		"signup.submit":            "Sign up",
		"error.first_name.missing": "Please tell us your first name, so the messages can greet you.",
		"error.first_name.long":    fmt.Sprintf("Please keep your first name to %d characters.", maxNameLen),
		"error.first_name.invalid": "Your first name has characters we cannot use.",
		"error.goal.long":          fmt.Sprintf("Please keep this to %d characters; a few words are plenty.", maxGoalLen),
		"error.goal.invalid":       "This has characters we cannot use.",
		"error.email.missing":      "Please enter your email address.",
		"error.email.long":         "That email address is too long.",
		"error.email.invalid":      "Please enter an email address like name@example.com.",
		"error.tz":                 "Please choose your time zone from the list.",
		"error.time":               "Please choose a time of day, like 18:30.",
		"error.weekday":            "Please choose a day of the week and a time.",
		"error.monthday":           "Please choose a day of the month and a time from the lists.",
		"error.programs":           "Please choose at least one kind of message.",

		"program.weekly-checkin.title":  "Weekly check-in",
		"program.weekly-checkin.hint":   "one small step and a question, once a week",
		"program.gratitude.title":       "Gratitude prompt",
		"program.gratitude.hint":        "a moment to notice a kindness, once a week",
		"program.monthly-review.title":  "Monthly review",
		"program.monthly-review.hint":   "a look back over your month",
		"program.between-session.title": "Between-session prompts",

		"check_email.title":    "Check your email",
		"check_email.sent":     "We have sent a message to the address you gave. Open it and press the button to confirm; nothing else is sent until you do.",
		"check_email.spam":     "No email after a few minutes? Look in your spam folder, or sign up again.",
		"check_phone.title":    "Check your phone",
		"check_both.title":     "Check your email and your phone",
		"check_phone.sent":     "We will text the number you gave. Reply YES to that text to get your texts; nothing else is texted until you do.",
		"check_phone.later":    "It is outside texting hours where you are, so the text goes out at %s your time.",
		"bad_form.title":       "We could not read that form",
		"bad_form.body":        "Please go back and send it again.",
		"internal.title":       "Something went wrong on our side",
		"internal.body":        "Nothing you typed was lost by you: please try again in a minute.",
		"bad_link.title":       "This link does not work",
		"bad_link.body":        "It may have been cut short when it was copied. Please open it straight from the email.",
		"expired.title":        "This link has expired",
		"expired.body":         "Sign up again on the front page and we will send you a fresh one.",
		"confirm.title":        "One last step",
		"confirm.body":         "Press the button to confirm you would like to receive these messages.",
		"confirm.button":       "Yes, send me these",
		"confirmed.title":      "You are all set",
		"confirmed.body":       "Your first message arrives at the time you chose. Every message has links to change your choices or stop at any time.",
		"unsubscribe.title":    "Stop all messages?",
		"text_link.title":      "Your messages",
		"text_link.body":       "This link opens your settings, your month and your data once, for the next 30 minutes.",
		"text_link.button":     "Open my page",
		"text_link.used.title": "This link was used already",
		"text_link.used.body":  "Each link from a text opens your page once. Text LINK for a new one.",
		"unsubscribe.body":     "Press the button and nothing more will be sent to you, including anything already on its way.",
		"unsubscribe.button":   "Unsubscribe",
		"unsubscribed.title":   "You are unsubscribed",
		"unsubscribed.body":    "Nothing more will be sent to you. If you change your mind, you can sign up again on the front page.",

		"manage.title":        "Your messages",
		"manage.intro":        "Hi %s. Here is what you receive, in your time zone (%s).",
		"manage.program":      "Program",
		"manage.when":         "When",
		"manage.next":         "Next",
		"manage.unsubscribe":  "Unsubscribe from everything",
		"manage.pending":      "You have not confirmed yet. Look for our email and press its button; nothing is sent until you do.",
		"manage.unsubscribed": "You are unsubscribed. Nothing more will be sent to you.",

		"monthday.last": "The last day",
		"rule.monthly":  "%s of each month",
		"rule.at":       "%s at %s",
		"rule.at_one":   "%s at %s",
		"date.at":       "%s %d %s, %s",
	}
	addCalendar(m, calendar{
		weekdays: [7]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
		every:    [7]string{"Every Monday", "Every Tuesday", "Every Wednesday", "Every Thursday", "Every Friday", "Every Saturday", "Every Sunday"},
		first:    [7]string{"The first Monday", "The first Tuesday", "The first Wednesday", "The first Thursday", "The first Friday", "The first Saturday", "The first Sunday"},
		last:     [7]string{"The last Monday", "The last Tuesday", "The last Wednesday", "The last Thursday", "The last Friday", "The last Saturday", "The last Sunday"},
		months:   [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		monthDay: ordinal,
	})
	return m
}

// ordinal is an English day of the month: "The 1st", "The 22nd".
func ordinal(d int) string {
	suffix := "th"
	switch {
	case d%10 == 1 && d != 11:
		suffix = "st"
	case d%10 == 2 && d != 12:
		suffix = "nd"
	case d%10 == 3 && d != 13:
		suffix = "rd"
	}
	return fmt.Sprintf("The %d%s", d, suffix)
}

func spanishText() map[string]string {
	m := map[string]string{
		"site.footer": "nudge envía recordatorios breves y regulares para que te mantengas en contacto con la gente. Nadie lo supervisa en tiempo real y no es un servicio de crisis: si estás en crisis, llama o envía un mensaje de texto al número de emergencias de tu país.",
		"lang.switch": "Idioma",

		"signup.title":             "Regístrate",
		"signup.heading":           "Pequeños recordatorios para acercarte a la gente que te rodea",
		"signup.lede":              "Una nota breve cada semana, en tu propia zona horaria: una pausa para ver cómo vas, un momento de gratitud, una mirada a tu mes. Un pequeño paso a la vez.",
		"signup.error_summary":     "Revisa los campos marcados abajo.",
		"signup.first_name":        "Nombre",
		"signup.email":             "Correo electrónico",
		"signup.tz":                "Zona horaria",
		"signup.locale":            "Idioma de los mensajes",
		"signup.goal":              "Alguien con quien te gustaría tener más cercanía: un nombre o un vínculo, como “mi hermana”",
		"signup.optional":          "(opcional)",
		"signup.goal_placeholder":  "mi hermana",
		"signup.programs":          "¿Qué te gustaría recibir?",
		"signup.weekday":           "Día",
		"signup.monthday":          "Qué día del mes",
		"signup.time":              "Hora",
		"signup.honeypot":          "Deja esto en blanco",
		"limit.title":              "Espera un momento",
		"limit.body":               "Hubo muchos registros desde aquí en poco tiempo. Vuelve a intentarlo en %d minutos.",
		"signup.phone":             "Número de celular, para mensajes de texto",
		"signup.phone_hint":        "Déjalo vacío si solo quieres correos. Si das un número y dejas vacío el correo, recibirás solo mensajes de texto.",
		"signup.sms_consent":       "Sí, envíenme por mensaje de texto a este número lo que elija abajo: hasta 3 mensajes por semana, entre las %s y las %s de mi hora. Pueden aplicarse tarifas de mensajes y datos. Responde STOP para cancelar, HELP para ayuda. El consentimiento no es condición para nada.",
		"error.phone.missing":      "Escribe tu número de celular para recibir mensajes, o desmarca la casilla.",
		"error.phone.invalid":      "Escribe un número de celular como +52 55 1234 5678.",
		"error.phone.not_mobile":   "Parece un teléfono fijo; los mensajes de texto necesitan un celular.",
		"error.phone.country":      "Todavía no podemos enviar mensajes a números de ese país.",
		"error.sms_consent":        "Marca la casilla para recibir mensajes de texto, o deja vacío el número.",
		"error.sms_window":         "Los mensajes de texto solo salen entre las %s y las %s de tu hora: elige una hora dentro de ese horario.",
		"signup.consent":           "Al registrarte, aceptas recibir estos correos. Te escribiremos una vez para que confirmes; no te enviaremos nada más hasta que lo hagas. Cada correo trae un enlace para darte de baja con un solo clic.",
		"signup.submit":            "Registrarme",
		"error.first_name.missing": "Dinos tu nombre para que los mensajes puedan saludarte.",
		"error.first_name.long":    fmt.Sprintf("Tu nombre puede tener hasta %d caracteres.", maxNameLen),
		"error.first_name.invalid": "Tu nombre tiene caracteres que no podemos usar.",
		"error.goal.long":          fmt.Sprintf("Usa hasta %d caracteres; con unas pocas palabras basta.", maxGoalLen),
		"error.goal.invalid":       "Esto tiene caracteres que no podemos usar.",
		"error.email.missing":      "Escribe tu correo electrónico.",
		"error.email.long":         "Ese correo electrónico es demasiado largo.",
		"error.email.invalid":      "Escribe un correo electrónico como nombre@ejemplo.com.",
		"error.tz":                 "Elige tu zona horaria de la lista.",
		"error.time":               "Elige una hora del día, como 18:30.",
		"error.weekday":            "Elige un día de la semana y una hora.",
		"error.monthday":           "Elige de las listas un día del mes y una hora.",
		"error.programs":           "Elige al menos un tipo de mensaje.",

		"program.weekly-checkin.title":  "Mensaje semanal",
		"program.weekly-checkin.hint":   "un pequeño paso y una pregunta, una vez por semana",
		"program.gratitude.title":       "Invitación a la gratitud",
		"program.gratitude.hint":        "un momento para notar un gesto amable, una vez por semana",
		"program.monthly-review.title":  "Revisión mensual",
		"program.monthly-review.hint":   "una mirada a lo que fue tu mes",
		"program.between-session.title": "Mensajes entre sesiones",

		"check_email.title":    "Revisa tu correo",
		"check_email.sent":     "Te enviamos un mensaje a la dirección que nos diste. Ábrelo y presiona el botón para confirmar; no te enviaremos nada más hasta que lo hagas.",
		"check_email.spam":     "¿No te llegó nada después de unos minutos? Busca en tu carpeta de correo no deseado o regístrate de nuevo.",
		"check_phone.title":    "Revisa tu teléfono",
		"check_both.title":     "Revisa tu correo y tu teléfono",
		"check_phone.sent":     "Te enviaremos un SMS al número que nos diste. Responde YES o SI a ese mensaje para recibir tus mensajes; no te enviaremos nada más hasta entonces.",
		"check_phone.later":    "Ahora es fuera del horario de mensajes donde estás, así que el SMS saldrá a las %s, tu hora.",
		"bad_form.title":       "No pudimos leer el formulario",
		"bad_form.body":        "Vuelve a la página anterior y envíalo de nuevo.",
		"internal.title":       "Algo salió mal de nuestro lado",
		"internal.body":        "No es culpa tuya: vuelve a intentarlo en un minuto.",
		"bad_link.title":       "Este enlace no funciona",
		"bad_link.body":        "Es posible que se haya cortado al copiarlo. Ábrelo directamente desde el correo.",
		"expired.title":        "Este enlace ya venció",
		"expired.body":         "Regístrate de nuevo en la página principal y te enviaremos uno nuevo.",
		"confirm.title":        "Un último paso",
		"confirm.body":         "Presiona el botón para confirmar que quieres recibir estos mensajes.",
		"confirm.button":       "Sí, quiero recibirlos",
		"confirmed.title":      "Todo listo",
		"confirmed.body":       "Tu primer mensaje llegará a la hora que elegiste. Cada mensaje trae enlaces para cambiar tus preferencias o dejar de recibirlos cuando quieras.",
		"unsubscribe.title":    "¿Dejar de recibir todos los mensajes?",
		"text_link.title":      "Tus mensajes",
		"text_link.body":       "Este enlace abre tu configuración, tu mes y tus datos una sola vez, durante los próximos 30 minutos.",
		"text_link.button":     "Abrir mi página",
		"text_link.used.title": "Este enlace ya se usó",
		"text_link.used.body":  "Cada enlace que llega por mensaje abre tu página una vez. Envía ENLACE para recibir otro.",
		"unsubscribe.body":     "Presiona el botón y no te enviaremos nada más, ni siquiera lo que ya esté en camino.",
		"unsubscribe.button":   "Cancelar la suscripción",
		"unsubscribed.title":   "Cancelaste tu suscripción",
		"unsubscribed.body":    "No te enviaremos nada más. Si cambias de opinión, puedes registrarte de nuevo en la página principal.",

		"manage.title":        "Tus mensajes",
		"manage.intro":        "Hola, %s. Esto es lo que recibes, en tu zona horaria (%s).",
		"manage.program":      "Programa",
		"manage.when":         "Cuándo",
		"manage.next":         "Próximo",
		"manage.unsubscribe":  "Darme de baja de todo",
		"manage.pending":      "Todavía no has confirmado. Busca nuestro correo y presiona su botón; no te enviaremos nada hasta que lo hagas.",
		"manage.unsubscribed": "Cancelaste tu suscripción. No te enviaremos nada más.",

		"monthday.last": "El último día",
		"rule.monthly":  "%s de cada mes",
		"rule.at":       "%s a las %s",
		"rule.at_one":   "%s a la %s",
		"date.at":       "%s %d de %s, %s",
	}
	addCalendar(m, calendar{
		weekdays: [7]string{"Lunes", "Martes", "Miércoles", "Jueves", "Viernes", "Sábado", "Domingo"},
		every:    [7]string{"Todos los lunes", "Todos los martes", "Todos los miércoles", "Todos los jueves", "Todos los viernes", "Todos los sábados", "Todos los domingos"},
		first:    [7]string{"El primer lunes", "El primer martes", "El primer miércoles", "El primer jueves", "El primer viernes", "El primer sábado", "El primer domingo"},
		last:     [7]string{"El último lunes", "El último martes", "El último miércoles", "El último jueves", "El último viernes", "El último sábado", "El último domingo"},
		months:   [12]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
		monthDay: func(d int) string { return fmt.Sprintf("El día %d", d) },
	})
	return m
}

// calendar is one locale's words for days and months, Monday first.
type calendar struct {
	weekdays    [7]string // the day alone: "Monday"
	every       [7]string // a weekly rule: "Every Monday"
	first, last [7]string // a monthly rule's day: "The first Monday"
	months      [12]string
	monthDay    func(day int) string // "The 1st"
}

// addCalendar adds the keys of c to m: weekday.mon, rule.weekly.mon,
// monthday.1 … monthday.28, monthday.first-mon, monthday.last-mon and
// month.1 … month.12.
func addCalendar(m map[string]string, c calendar) {
	for i, code := range weekdayCodes() {
		m["weekday."+code] = c.weekdays[i]
		m["rule.weekly."+code] = c.every[i]
		m["monthday.first-"+code] = c.first[i]
		m["monthday.last-"+code] = c.last[i]
	}
	for d := 1; d <= scheduler.MaxMonthDay; d++ {
		m["monthday."+strconv.Itoa(d)] = c.monthDay(d)
	}
	for i, name := range c.months {
		m["month."+strconv.Itoa(i+1)] = name
	}
}
