package web

// answerEnglish is the English text of the answer page and "Your month".
func answerEnglish() map[string]string {
	return map[string]string{
		"answer.title.checkin":    "Your check-in",
		"answer.title.gratitude":  "Your gratitude note",
		"answer.title.other":      "Your answer",
		"answer.question.score":   "How connected did you feel this week?",
		"answer.question.line":    "Want to share it? One line is plenty.",
		"answer.question.other":   "Anything you'd like to say about it?",
		"answer.scale.1":          "1 – not at all",
		"answer.scale.2":          "2 – a little",
		"answer.scale.3":          "3 – somewhat",
		"answer.scale.4":          "4 – quite",
		"answer.scale.5":          "5 – very",
		"answer.note":             "A line about it",
		"answer.optional":         "(optional)",
		"answer.note_hint":        "Up to %d characters. Only you (and the monthly review you get) see it.",
		"answer.save":             "Save my answer",
		"answer.saved":            "Your answer is saved.",
		"answer.your_score":       "Your score: %d of 5.",
		"answer.your_note":        "Your note:",
		"answer.change":           "Change my answer",
		"answer.earlier":          "You answered this one already. Saving again replaces that answer.",
		"answer.error.empty":      "Please choose a number or write a line.",
		"answer.error.empty_line": "Please write a line, or close this page if you'd rather not.",
		"answer.error.long":       "Please keep the note to %d characters.",
		"answer.error.score":      "Please choose a number from 1 to 5.",
	}
}

// answerSpanish is answerEnglish in Spanish.
func answerSpanish() map[string]string {
	return map[string]string{
		"answer.title.checkin":    "Tu repaso de la semana",
		"answer.title.gratitude":  "Tu nota de gratitud",
		"answer.title.other":      "Tu respuesta",
		"answer.question.score":   "¿Qué tan cerca de otras personas te sentiste esta semana?",
		"answer.question.line":    "¿Quieres contarlo? Una línea basta.",
		"answer.question.other":   "¿Quieres decir algo al respecto?",
		"answer.scale.1":          "1 – nada",
		"answer.scale.2":          "2 – poco",
		"answer.scale.3":          "3 – algo",
		"answer.scale.4":          "4 – bastante",
		"answer.scale.5":          "5 – mucho",
		"answer.note":             "Una línea sobre esto",
		"answer.optional":         "(opcional)",
		"answer.note_hint":        "Hasta %d caracteres. Solo tú (y tu repaso mensual) lo ven.",
		"answer.save":             "Guardar mi respuesta",
		"answer.saved":            "Tu respuesta está guardada.",
		"answer.your_score":       "Tu número: %d de 5.",
		"answer.your_note":        "Tu nota:",
		"answer.change":           "Cambiar mi respuesta",
		"answer.earlier":          "Ya respondiste a este mensaje. Si guardas de nuevo, se reemplaza esa respuesta.",
		"answer.error.empty":      "Elige un número o escribe una línea.",
		"answer.error.empty_line": "Escribe una línea, o cierra esta página si prefieres no hacerlo.",
		"answer.error.long":       "La nota puede tener hasta %d caracteres.",
		"answer.error.score":      "Elige un número del 1 al 5.",
	}
}
