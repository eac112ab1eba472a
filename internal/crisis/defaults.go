package crisis

// usLines serve the United States and Puerto Rico, where 988 answers too.
var usLines = map[string]Lines{
	"en": {
		SMS:   "Call or text 988 now (US), or 911 in an emergency.",
		Email: "If you are in crisis, call or text 988 (Suicide & Crisis Lifeline, US), or 911 in an emergency.",
	},
	"es": {
		SMS:   "Llama al 988 y marca 2, o escribe AYUDA al 988 (EE. UU.). En una emergencia, 911.",
		Email: "Si estás en crisis, llama al 988 y marca 2 para hablar en español, o envía AYUDA por mensaje al 988 (EE. UU.). En una emergencia, llama al 911.",
	},
}

// gbLines serve the United Kingdom and the Crown Dependencies (Guernsey,
// Jersey, the Isle of Man), where Samaritans answer 116 123 and 999 is the
// emergency number.
var gbLines = map[string]Lines{
	"en": {
		SMS:   "Call Samaritans free on 116 123 now (UK), or 999 in an emergency.",
		Email: "If you are in crisis, call Samaritans free on 116 123 (UK, 24 hours), or 999 in an emergency.",
	},
	"es": {
		SMS:   "Llama gratis a Samaritans, 116 123 (Reino Unido, en ingles). En una emergencia, 999.",
		Email: "Si estás en crisis, llama gratis a Samaritans al 116 123 (Reino Unido, en inglés, 24 horas). En una emergencia, llama al 999.",
	},
}

// defaults are the built-in lines. SMS lines are plain ASCII (a subset of
// GSM-7); email lines may carry accents. Each country's source is beside it.
var defaults = map[string]map[string]Lines{
	// United States: the 988 Suicide & Crisis Lifeline answers calls and
	// texts to 988 around the clock; in Spanish, call 988 and press 2, or
	// text AYUDA to 988. Emergencies: 911.
	// The Lifeline serves Puerto Rico as well.
	// Source: https://988lifeline.org/ and https://988lifeline.org/es/home/
	"US": usLines,
	"PR": usLines,
	// Canada: 9-8-8 Suicide Crisis Helpline, call or text 988, around the
	// clock, in English and French (no Spanish option is offered, so the
	// Spanish lines say so). Emergencies: 911.
	// Source: https://988.ca/
	"CA": {
		"en": {
			SMS:   "Call or text 988 now (Canada), or 911 in an emergency.",
			Email: "If you are in crisis, call or text 988 (Suicide Crisis Helpline, Canada), or 911 in an emergency.",
		},
		"es": {
			SMS:   "Llama o escribe al 988 (Canada, en ingles o frances). En una emergencia, 911.",
			Email: "Si estás en crisis, llama o escribe al 988 (Canadá; atienden en inglés y francés). En una emergencia, llama al 911.",
		},
	},
	// Spain: 024, the line for suicidal behaviour of the Ministry of Health,
	// free, around the clock. Emergencies: 112.
	// Source: https://www.sanidad.gob.es/linea024/
	"ES": {
		"en": {
			SMS:   "Call 024 now (Spain, free, 24h), or 112 in an emergency.",
			Email: "If you are in crisis, call 024 (Spain's suicide prevention line, free, 24 hours), or 112 in an emergency.",
		},
		"es": {
			SMS:   "Llama ahora al 024, gratis y a cualquier hora. En una emergencia, 112.",
			Email: "Si estás en crisis, llama al 024 (línea de atención a la conducta suicida, gratuita, 24 horas). En una emergencia, llama al 112.",
		},
	},
	// Mexico: Línea de la Vida, 800 911 2000, free, around the clock.
	// Emergencies: 911.
	// Source: https://www.gob.mx/salud/conadic (Línea de la Vida)
	"MX": {
		"en": {
			SMS:   "Call Linea de la Vida on 800 911 2000 now (Mexico), or 911 in an emergency.",
			Email: "If you are in crisis, call Línea de la Vida on 800 911 2000 (Mexico, free, 24 hours), or 911 in an emergency.",
		},
		"es": {
			SMS:   "Llama ahora a la Linea de la Vida, 800 911 2000. En una emergencia, 911.",
			Email: "Si estás en crisis, llama a la Línea de la Vida, 800 911 2000 (gratuita, 24 horas). En una emergencia, llama al 911.",
		},
	},
	// United Kingdom: Samaritans, 116 123, free, around the clock, in
	// English. Emergencies: 999.
	// Source: https://www.samaritans.org/how-we-can-help/contact-samaritan/
	// Samaritans and 999 serve the Crown Dependencies too.
	"GB": gbLines,
	"GG": gbLines,
	"JE": gbLines,
	"IM": gbLines,
	// Everywhere else: the local emergency number, whatever it is.
	"*": {
		"en": {
			SMS:   "Please call your local emergency number now.",
			Email: "If you are in crisis, call your local emergency number.",
		},
		"es": {
			SMS:   "Llama ahora al numero de emergencias local.",
			Email: "Si estás en crisis, llama al número de emergencias local.",
		},
	},
}
