package console

import (
	"fmt"
	"html/template"
	"time"
)

// catalogue is the console's text, per locale (the locales of the public
// pages), joined from each part's texts. A missing key shows as [[key]],
// for the tests to find.
var catalogue = joinCatalogues(baseTexts, ownerTexts, alertTexts, clientTexts, journeyTexts)

// joinCatalogues merges parts' texts per locale; a key given twice is a
// programming error found at start-up.
func joinCatalogues(parts ...map[string]map[string]string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, part := range parts {
		for locale, m := range part {
			if out[locale] == nil {
				out[locale] = map[string]string{}
			}
			for k, v := range m {
				if _, dup := out[locale][k]; dup {
					panic("console: text " + k + " given twice for " + locale)
				}
				out[locale][k] = v
			}
		}
	}
	return out
}

// baseTexts are the texts of sign-in, clients, alerts and the audit log.
var baseTexts = map[string]map[string]string{
	"en": {
		"console":                 "Clinic console",
		"nav.clients":             "Clients",
		"nav.alerts":              "Alerts",
		"nav.audit":               "Audit log",
		"nav.signout":             "Sign out",
		"nav.signed_in":           "Signed in as %s",
		"nav.label":               "Console",
		"lang.label":              "Language",
		"footer":                  "Pages with client data are never cached. Sign out on a shared computer.",
		"signin.title":            "Sign in to the clinic console",
		"signin.lede":             "We email you a link that signs you in once, within 15 minutes.",
		"signin.email":            "Your work email address",
		"signin.button":           "Email me a sign-in link",
		"signin.bad_email":        "Enter an email address such as name@clinic.example.",
		"signin.sent_title":       "Check your email",
		"signin.sent":             "If this address belongs to a clinic's staff, a sign-in link is on its way.",
		"signin.sent_ttl":         "The link works once, within 15 minutes.",
		"link.title":              "Sign in",
		"link.body":               "Press the button to sign in to the clinic console.",
		"link.button":             "Sign in",
		"badlink.title":           "This link does not work",
		"badlink.body":            "A sign-in link works once, within 15 minutes. Ask for a new one.",
		"badlink.button":          "Ask for a new link",
		"signout.title":           "Signed out",
		"signout.body":            "You are signed out of the clinic console.",
		"limit.title":             "Too many requests",
		"limit.body":              "Too many sign-in links were asked for from here. Try again in %d minutes.",
		"badform.title":           "Something went wrong with the form",
		"badform.body":            "Go back and try again.",
		"notfound.title":          "Not found",
		"notfound.body":           "There is nothing here, or it is not yours to see.",
		"internal.title":          "Something went wrong",
		"internal.body":           "Please try again in a minute.",
		"clients.title":           "Clients",
		"clients.none":            "No clients to show.",
		"clients.name":            "Name",
		"clients.status":          "Status",
		"clients.channels":        "Channels",
		"clients.clinician":       "Clinician",
		"clients.last":            "Last score",
		"clients.alert":           "Alert",
		"clients.alert_open":      "Open distress alert",
		"clients.paused":          "paused",
		"clients.next":            "Next page",
		"clients.caption":         "Your clients",
		"status.pending":          "pending",
		"status.active":           "active",
		"status.paused":           "paused",
		"status.unsubscribed":     "stopped",
		"client.status":           "Status",
		"client.channels":         "Channels",
		"client.clinician":        "Clinician",
		"client.nobody":           "Nobody",
		"client.next":             "Next session",
		"client.none":             "none set",
		"client.paused":           "Prompts paused until %s.",
		"client.alert":            "This client has an open distress alert.",
		"client.see_alerts":       "See alerts",
		"client.scores":           "Scores",
		"client.scores_caption":   "Scores, oldest first",
		"client.date":             "Date",
		"client.score":            "Score",
		"client.replies":          "Replies",
		"client.no_replies":       "No replies yet.",
		"client.reply_at":         "When",
		"client.reply_text":       "Reply",
		"client.channel":          "Channel",
		"client.deliveries":       "Deliveries",
		"client.no_deliveries":    "Nothing sent yet.",
		"client.occurrence":       "Message",
		"client.state":            "State",
		"client.pause":            "Pause prompts",
		"client.pause_for":        "Pause for",
		"client.days":             "%d days",
		"client.resume":           "Resume prompts",
		"client.assign":           "Assign to",
		"client.assign_button":    "Save assignment",
		"chart.title":             "Scores over time (1 to 5)",
		"chart.none":              "No scores yet.",
		"chart.summary":           "%d scores; the first was %d, the latest %d.",
		"alerts.title":            "Distress alerts",
		"alerts.lede":             "A client's reply read as distress. They were sent crisis resources at once and their prompts are paused. The words are not shown here.",
		"alerts.open":             "Open",
		"alerts.none":             "No open alerts.",
		"alerts.resolved":         "Resolved",
		"alerts.client":           "Client",
		"alerts.at":               "Raised",
		"alerts.state":            "State",
		"alerts.action":           "Action",
		"alerts.acknowledge":      "Acknowledge",
		"alerts.resolve":          "Resolve",
		"alerts.ack_by":           "Acknowledged by %s at %s",
		"alerts.res_by":           "Resolved by %s at %s",
		"alerts.erased":           "(erased)",
		"alerts.caption_open":     "Alerts to act on",
		"alerts.caption_resolved": "Resolved alerts",
		"state.open":              "open",
		"state.acknowledged":      "acknowledged",
		"state.resolved":          "resolved",
		"audit.title":             "Audit log",
		"audit.lede":              "Sign-ins, views of a client's page and every staff action, kept 400 days. Never what a client wrote.",
		"audit.caption":           "Newest first",
		"audit.at":                "When",
		"audit.who":               "Who",
		"audit.action":            "Action",
		"audit.client":            "Client",
		"audit.detail":            "Detail",
		"audit.ip":                "IP",
		"audit.none":              "Nothing yet.",
		"done.paused":             "Prompts paused.",
		"done.resumed":            "Prompts resumed.",
		"done.assigned":           "Assignment saved.",
		"done.acknowledged":       "Alert acknowledged.",
		"done.resolved":           "Alert resolved.",
	},
	"es": {
		"console":                 "Consola de la clínica",
		"nav.clients":             "Clientes",
		"nav.alerts":              "Alertas",
		"nav.audit":               "Registro de auditoría",
		"nav.signout":             "Salir",
		"nav.signed_in":           "Has entrado como %s",
		"nav.label":               "Consola",
		"lang.label":              "Idioma",
		"footer":                  "Las páginas con datos de clientes nunca se guardan en caché. Sal de la sesión en un ordenador compartido.",
		"signin.title":            "Entrar en la consola de la clínica",
		"signin.lede":             "Te enviamos por correo un enlace que te deja entrar una vez, durante 15 minutos.",
		"signin.email":            "Tu correo de trabajo",
		"signin.button":           "Enviarme un enlace para entrar",
		"signin.bad_email":        "Escribe una dirección de correo como nombre@clinica.example.",
		"signin.sent_title":       "Revisa tu correo",
		"signin.sent":             "Si esta dirección pertenece al personal de una clínica, le llegará un enlace para entrar.",
		"signin.sent_ttl":         "El enlace funciona una vez, durante 15 minutos.",
		"link.title":              "Entrar",
		"link.body":               "Pulsa el botón para entrar en la consola de la clínica.",
		"link.button":             "Entrar",
		"badlink.title":           "Este enlace no funciona",
		"badlink.body":            "Un enlace para entrar funciona una vez, durante 15 minutos. Pide otro.",
		"badlink.button":          "Pedir un enlace nuevo",
		"signout.title":           "Has salido",
		"signout.body":            "Has salido de la consola de la clínica.",
		"limit.title":             "Demasiadas solicitudes",
		"limit.body":              "Se han pedido demasiados enlaces desde aquí. Vuelve a intentarlo en %d minutos.",
		"badform.title":           "Algo ha fallado con el formulario",
		"badform.body":            "Vuelve atrás e inténtalo de nuevo.",
		"notfound.title":          "No encontrado",
		"notfound.body":           "Aquí no hay nada, o no te corresponde verlo.",
		"internal.title":          "Algo ha fallado",
		"internal.body":           "Inténtalo de nuevo en un minuto.",
		"clients.title":           "Clientes",
		"clients.none":            "No hay clientes que mostrar.",
		"clients.name":            "Nombre",
		"clients.status":          "Estado",
		"clients.channels":        "Canales",
		"clients.clinician":       "Profesional",
		"clients.last":            "Última puntuación",
		"clients.alert":           "Alerta",
		"clients.alert_open":      "Alerta de angustia abierta",
		"clients.paused":          "en pausa",
		"clients.next":            "Página siguiente",
		"clients.caption":         "Tus clientes",
		"status.pending":          "pendiente",
		"status.active":           "activo",
		"status.paused":           "en pausa",
		"status.unsubscribed":     "dado de baja",
		"client.status":           "Estado",
		"client.channels":         "Canales",
		"client.clinician":        "Profesional",
		"client.nobody":           "Nadie",
		"client.next":             "Próxima sesión",
		"client.none":             "sin fijar",
		"client.paused":           "Mensajes en pausa hasta el %s.",
		"client.alert":            "Este cliente tiene una alerta de angustia abierta.",
		"client.see_alerts":       "Ver alertas",
		"client.scores":           "Puntuaciones",
		"client.scores_caption":   "Puntuaciones, de la más antigua a la más reciente",
		"client.date":             "Fecha",
		"client.score":            "Puntuación",
		"client.replies":          "Respuestas",
		"client.no_replies":       "Aún no hay respuestas.",
		"client.reply_at":         "Cuándo",
		"client.reply_text":       "Respuesta",
		"client.channel":          "Canal",
		"client.deliveries":       "Envíos",
		"client.no_deliveries":    "Aún no se ha enviado nada.",
		"client.occurrence":       "Mensaje",
		"client.state":            "Estado",
		"client.pause":            "Pausar mensajes",
		"client.pause_for":        "Pausar durante",
		"client.days":             "%d días",
		"client.resume":           "Reanudar mensajes",
		"client.assign":           "Asignar a",
		"client.assign_button":    "Guardar asignación",
		"chart.title":             "Puntuaciones en el tiempo (de 1 a 5)",
		"chart.none":              "Aún no hay puntuaciones.",
		"chart.summary":           "%d puntuaciones; la primera fue %d, la última %d.",
		"alerts.title":            "Alertas de angustia",
		"alerts.lede":             "Una respuesta de un cliente se leyó como angustia. Recibió enseguida recursos de crisis y sus mensajes están en pausa. Sus palabras no se muestran aquí.",
		"alerts.open":             "Abiertas",
		"alerts.none":             "No hay alertas abiertas.",
		"alerts.resolved":         "Resueltas",
		"alerts.client":           "Cliente",
		"alerts.at":               "Fecha",
		"alerts.state":            "Estado",
		"alerts.action":           "Acción",
		"alerts.acknowledge":      "Dar por vista",
		"alerts.resolve":          "Resolver",
		"alerts.ack_by":           "Vista por %s el %s",
		"alerts.res_by":           "Resuelta por %s el %s",
		"alerts.erased":           "(borrado)",
		"alerts.caption_open":     "Alertas pendientes",
		"alerts.caption_resolved": "Alertas resueltas",
		"state.open":              "abierta",
		"state.acknowledged":      "vista",
		"state.resolved":          "resuelta",
		"audit.title":             "Registro de auditoría",
		"audit.lede":              "Entradas, visitas a la página de un cliente y cada acción del personal, guardadas 400 días. Nunca lo que escribió un cliente.",
		"audit.caption":           "Lo más reciente primero",
		"audit.at":                "Cuándo",
		"audit.who":               "Quién",
		"audit.action":            "Acción",
		"audit.client":            "Cliente",
		"audit.detail":            "Detalle",
		"audit.ip":                "IP",
		"audit.none":              "Aún nada.",
		"done.paused":             "Mensajes en pausa.",
		"done.resumed":            "Mensajes reanudados.",
		"done.assigned":           "Asignación guardada.",
		"done.acknowledged":       "Alerta dada por vista.",
		"done.resolved":           "Alerta resuelta.",
	},
}

// texts returns the lookup for a locale (English when unknown).
func texts(locale string) func(string, ...any) string {
	m, ok := catalogue[locale]
	if !ok {
		m = catalogue["en"]
	}
	return func(key string, args ...any) string {
		s, ok := m[key]
		if !ok {
			return "[[" + key + "]]"
		}
		if len(args) > 0 {
			return fmt.Sprintf(s, args...)
		}
		return s
	}
}

func pageFuncs(locale string, _ map[string]string) template.FuncMap {
	return template.FuncMap{
		"t":    texts(locale),
		"lang": func() string { return locale },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"day": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	}
}
