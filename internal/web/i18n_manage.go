package web

import "github.com/nudgehq/nudge/internal/subscription"

// withKeys returns base with the keys of more added. The two never share a
// key (a test checks), so the order does not matter.
func withKeys(base, more map[string]string) map[string]string {
	for k, v := range more {
		base[k] = v
	}
	return base
}

// manageEnglish is the English text of the preference centre: changing
// preferences, pausing, the data export and erasure.
func manageEnglish() map[string]string {
	return map[string]string{
		"manage.error_summary": "Please check the fields marked below.",
		"manage.done.saved":    "Your changes are saved.",
		"manage.done.same":     "Nothing needed changing: these were already your choices.",
		"manage.done.paused":   "Your messages are paused.",
		"manage.done.resumed":  "Your messages are back on.",
		"manage.paused":        "Your messages are paused. They start again on %s.",
		"manage.held":          "We paused your messages after your last reply. They start again only when you choose to resume.",
		"manage.resume":        "Start my messages again now",
		"manage.date":          "%d %s %d",

		"manage.prefs.heading":     "Change what you receive",
		"manage.prefs.programs":    "What would you like to receive?",
		"manage.prefs.weekday":     "Day",
		"manage.prefs.monthday":    "Which day of the month",
		"manage.prefs.time":        "Time",
		"manage.prefs.tz":          "Time zone",
		"manage.prefs.locale":      "Language of the messages",
		"manage.prefs.channels":    "How should your messages reach you?",
		"manage.prefs.email":       "By email (%s)",
		"manage.prefs.sms":         "By text message (%s)",
		"manage.prefs.sms_window":  "Texts go out only between %s and %s your time, so with texts on, every time you choose must be in that window.",
		"manage.prefs.sms_pending": "Texts start once you reply YES to the text message we sent you.",
		"manage.prefs.sms_stopped": "You replied STOP, so we send you no texts. To have them again, text START to our number.",
		"manage.prefs.sms_none":    "Texts need your agreement by text message first: text START to our number.",
		"manage.prefs.goal":        "One connection you'd like to strengthen",
		"manage.prefs.optional":    "(optional)",
		"manage.prefs.save":        "Save changes",

		"manage.pause.heading": "Take a break",
		"manage.pause.body":    "Hold back every message until a date of your choice, up to 6 months from now. They start again on that day.",
		"manage.pause.until":   "Start again on",
		"manage.pause.button":  "Pause my messages",

		"manage.stop.heading": "Stop everything",
		"manage.stop.body":    "Unsubscribe and nothing more is sent to you, including anything already on its way.",

		"manage.data.heading": "Your data",
		"manage.data.body":    "Everything we keep about you: your details, your choices, the record of what you agreed to, your replies and what we sent you.",
		"manage.data.export":  "Download my data (JSON)",
		"manage.data.erase":   "Erase me",

		"manage.erase.title":  "Erase everything about you?",
		"manage.erase.body":   "We will delete your details, your choices, your replies, the record of what you agreed to and of what we sent you, and stop anything already on its way. This cannot be undone.",
		"manage.erase.optout": "If you have unsubscribed or replied STOP, we keep only a one-way scrambled copy (a hash) of your address or number, so that we never message you again by mistake.",
		"manage.erase.button": "Yes, erase everything",
		"manage.erase.cancel": "No, take me back",

		"manage.erased.title": "Your data is erased",
		"manage.erased.body":  "We have deleted everything we kept about you, and nothing more will be sent to you. If you ever want nudges again, you can sign up on the front page.",

		"manage.error.sms_window": "Texts go out between %s and %s your time: please choose a time from %s to %s, or turn off text messages.",
		"manage.error.channels":   "Please choose at least one way to receive your messages.",
		"manage.error.no_phone":   "We do not have a mobile number for you, so we cannot send you texts.",
		"manage.error.no_email":   "We do not have an email address for you, so we cannot send you emails.",
		"manage.error.locale":     "Please choose a language from the list.",
		"manage.error.until":      "Please choose a date, like 2027-01-15.",
		"manage.error.until_past": "Please choose a date after today.",
		"manage.error.until_far":  "Please choose a date within the next %d months.",

		// A clinic's client: %s after the first name is what their
		// messages are arranged with (the clinic's display name). The
		// words stay neutral: anyone may read them over a shoulder.
		"manage.client.intro":        "Hi %s. Your messages are arranged with %s. To change what you receive, or when, please ask them.",
		"manage.client.separate":     "They are kept apart from anything else you may get from us: what you do on this page changes only these messages.",
		"manage.client.refused":      "Nothing was changed: what you receive, and when, is arranged with %s, so please ask them.",
		"manage.client.unnamed":      "the organisation that signed you up",
		"manage.client.stop":         "Stop every message arranged with %s, including anything already on its way. They will see that you did.",
		"manage.client.data":         "Everything we keep about you: your details, the record of what you agreed to, the messages arranged for you and their dates, your replies and what we sent you.",
		"manage.client.erase":        "The messages arranged with %s stop too, and they will no longer find your details with us.",
		"manage.client.erased":       "We have deleted everything we kept about you, and nothing more will be sent to you.",
		"manage.client.unsubscribed": "Nothing more arranged with %s will be sent to you.",
		"manage.client.unsubscribe":  "Stop these messages",
	}
}

// manageSpanish is manageEnglish in Latin-American Spanish, addressing the
// reader as tú.
func manageSpanish() map[string]string {
	return map[string]string{
		"manage.error_summary": "Revisa los campos marcados abajo.",
		"manage.done.saved":    "Guardamos tus cambios.",
		"manage.done.same":     "No había nada que cambiar: ya eran tus preferencias.",
		"manage.done.paused":   "Pausamos tus mensajes.",
		"manage.done.resumed":  "Tus mensajes vuelven a llegar.",
		"manage.paused":        "Tus mensajes están en pausa. Vuelven a llegar el %s.",
		"manage.held":          "Pausamos tus mensajes después de tu último mensaje. Solo vuelven a llegar cuando decidas reanudarlos.",
		"manage.resume":        "Reanudar mis mensajes ahora",
		"manage.date":          "%d de %s de %d",

		"manage.prefs.heading":     "Cambia lo que recibes",
		"manage.prefs.programs":    "¿Qué te gustaría recibir?",
		"manage.prefs.weekday":     "Día",
		"manage.prefs.monthday":    "Qué día del mes",
		"manage.prefs.time":        "Hora",
		"manage.prefs.tz":          "Zona horaria",
		"manage.prefs.locale":      "Idioma de los mensajes",
		"manage.prefs.channels":    "¿Cómo quieres recibir tus mensajes?",
		"manage.prefs.email":       "Por correo electrónico (%s)",
		"manage.prefs.sms":         "Por mensaje de texto (%s)",
		"manage.prefs.sms_window":  "Los mensajes de texto solo se envían entre las %s y las %s de tu hora; si los activas, todas las horas que elijas tienen que estar en ese horario.",
		"manage.prefs.sms_pending": "Los mensajes de texto empiezan cuando respondas YES al mensaje que te enviamos.",
		"manage.prefs.sms_stopped": "Respondiste STOP, así que no te enviamos mensajes de texto. Para volver a recibirlos, envía START a nuestro número.",
		"manage.prefs.sms_none":    "Antes necesitamos tu permiso por mensaje de texto: envía START a nuestro número.",
		"manage.prefs.goal":        "Una relación que te gustaría fortalecer",
		"manage.prefs.optional":    "(opcional)",
		"manage.prefs.save":        "Guardar cambios",

		"manage.pause.heading": "Tómate un descanso",
		"manage.pause.body":    "Pausa todos los mensajes hasta la fecha que elijas, como máximo dentro de 6 meses. Vuelven a llegar ese día.",
		"manage.pause.until":   "Volver a recibirlos el",
		"manage.pause.button":  "Pausar mis mensajes",

		"manage.stop.heading": "Detener todo",
		"manage.stop.body":    "Cancela tu suscripción y no te enviaremos nada más, ni siquiera lo que ya esté en camino.",

		"manage.data.heading": "Tus datos",
		"manage.data.body":    "Todo lo que guardamos sobre ti: tus datos, tus preferencias, el registro de lo que aceptaste, tus respuestas y lo que te enviamos.",
		"manage.data.export":  "Descargar mis datos (JSON)",
		"manage.data.erase":   "Borrar mis datos",

		"manage.erase.title":  "¿Borrar todo lo que tenemos sobre ti?",
		"manage.erase.body":   "Borraremos tus datos, tus preferencias, tus respuestas y el registro de lo que aceptaste y de lo que te enviamos, y detendremos lo que ya esté en camino. Esto no se puede deshacer.",
		"manage.erase.optout": "Si cancelaste tu suscripción o respondiste STOP, solo guardamos una huella irreversible (un hash) de tu correo o tu número, para no volver a escribirte por error.",
		"manage.erase.button": "Sí, borrar todo",
		"manage.erase.cancel": "No, volver",

		"manage.erased.title": "Borramos tus datos",
		"manage.erased.body":  "Borramos todo lo que guardábamos sobre ti y no te enviaremos nada más. Si algún día quieres volver a recibir recordatorios, puedes registrarte en la página principal.",

		"manage.error.sms_window": "Los mensajes de texto se envían entre las %s y las %s de tu hora: elige una hora de %s a %s o desactiva los mensajes de texto.",
		"manage.error.channels":   "Elige al menos una forma de recibir tus mensajes.",
		"manage.error.no_phone":   "No tenemos un número de celular tuyo, así que no podemos enviarte mensajes de texto.",
		"manage.error.no_email":   "No tenemos un correo electrónico tuyo, así que no podemos enviarte correos.",
		"manage.error.locale":     "Elige un idioma de la lista.",
		"manage.error.until":      "Elige una fecha, como 2027-01-15.",
		"manage.error.until_past": "Elige una fecha posterior a hoy.",
		"manage.error.until_far":  "Elige una fecha dentro de los próximos %d meses.",

		"manage.client.intro":        "Hola, %s. Tus mensajes se organizan con %s. Para cambiar lo que recibes, o cuándo, pídeselo a ellos.",
		"manage.client.separate":     "Están separados de cualquier otra cosa que recibas de nosotros: lo que hagas en esta página solo cambia estos mensajes.",
		"manage.client.refused":      "No se cambió nada: lo que recibes, y cuándo, se organiza con %s, así que pídeselo a ellos.",
		"manage.client.unnamed":      "la organización que te inscribió",
		"manage.client.stop":         "Detén todos los mensajes que se organizan con %s, incluso lo que ya esté en camino. Podrán ver que lo hiciste.",
		"manage.client.data":         "Todo lo que guardamos sobre ti: tus datos, el registro de lo que aceptaste, los mensajes programados para ti y sus fechas, tus respuestas y lo que te enviamos.",
		"manage.client.erase":        "También se detienen los mensajes que se organizan con %s, y ya no encontrarán tus datos con nosotros.",
		"manage.client.erased":       "Borramos todo lo que guardábamos sobre ti y no te enviaremos nada más.",
		"manage.client.unsubscribed": "Ya no te enviaremos nada de lo que se organiza con %s.",
		"manage.client.unsubscribe":  "Detener estos mensajes",
	}
}

// reasonKey is the catalogue key of why the service refused a field.
func reasonKey(field, reason string) string {
	switch field {
	case "tz":
		return "error.tz"
	case "locale":
		return "manage.error.locale"
	case "goal":
		if reason == subscription.ReasonTooLong {
			return "error.goal.long"
		}
		return "error.goal.invalid"
	case "channels":
		switch reason {
		case subscription.ReasonNoPhone:
			return "manage.error.no_phone"
		case subscription.ReasonNoEmail:
			return "manage.error.no_email"
		}
		return "manage.error.channels"
	case "programs":
		return "error.programs"
	case "until":
		switch reason {
		case subscription.ReasonPast:
			return "manage.error.until_past"
		case subscription.ReasonTooFar:
			return "manage.error.until_far"
		}
		return "manage.error.until"
	}
	// A program's own field.
	if reason == subscription.ReasonSMSWindow {
		return "manage.error.sms_window"
	}
	for _, p := range formPrograms {
		if string(p.Program) == field && p.Monthly {
			return "error.monthday"
		}
	}
	return "error.weekday"
}
