package console

// journeyTexts are the texts of the clients list's change in score.
var journeyTexts = map[string]map[string]string{
	"en": {
		"journey.change_up":   "up %d from the answer before",
		"journey.change_down": "down %d from the answer before",
		"journey.change_same": "the same as the answer before",
	},
	"es": {
		"journey.change_up":   "%d más que la respuesta anterior",
		"journey.change_down": "%d menos que la respuesta anterior",
		"journey.change_same": "igual que la respuesta anterior",
	},
}
