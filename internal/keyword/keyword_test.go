package keyword

import (
	"testing"
	"unicode/utf8"
)

func TestRead(t *testing.T) {
	t.Parallel()
	stop := Match{Kind: Stop}
	carrier := Match{Kind: Stop, Carrier: true}
	text := func(body string) Match { return Match{Kind: Text, Note: body} }
	rating := func(n int, note string) Match { return Match{Kind: Rating, Rating: n, Note: note} }
	tests := []struct {
		body string
		want Match
	}{
		// the carrier words, as carriers read them
		{"STOP", carrier},
		{"  stop  ", carrier},
		{"Stop.", carrier},
		{"STOP!!!", carrier},
		{"StopAll", carrier},
		{"unsubscribe", carrier},
		{"Cancel", carrier},
		{"END", carrier},
		{"quit", carrier},
		{"REVOKE", carrier},
		{"optout", carrier},
		{"¡STOP!", carrier},
		// opt-outs the carriers miss
		{"Opt-Out", stop},
		{"opt out", stop},
		{"please stop", stop},
		{"Stop please", stop},
		{"stop!!", carrier},
		{"STOP.", carrier},
		{"stopp", stop},
		{"stoppppp", stop},
		{"stpo", stop},
		{"sotp", stop},
		{"Stp", stop},
		{"ＳＴＯＰ", stop},
		{"S\u200bTOP", stop},
		{"\u202eSTOP\u202c", stop},
		{"S\u0327TOP", stop},
		{"🛑 stop 🛑", stop},
		{"stop texting me", stop},
		{"please stop texting me", stop},
		{"Don't text me anymore", stop},
		{"unsubscribe me from this list please", stop},
		{"I want to stop", stop},
		{"can you please stop", stop},
		{"STOP I never signed up for this", stop},
		{"STOP who is this??", stop},
		{"wrong number", stop},
		{"remove me", stop},
		{"take me off your list", stop},
		{"cancle", stop},
		{"unsubscibe", stop},
		{"end please", stop},
		{"I quit", stop},
		{"3 stop", stop},
		// Spanish opt-outs
		{"BAJA", stop},
		{"baja por favor", stop},
		{"ALTO", stop},
		{"PARAR", stop},
		{"para", stop},
		{"Para ya, por favor", stop},
		{"CANCELAR", stop},
		{"cancelar!!", stop},
		{"no más mensajes", stop},
		{"NO MAS MENSAJES", stop},
		{"no me escribas más", stop},
		{"No me escriban más, por favor", stop},
		{"ya no quiero mensajes", stop},
		{"dejen de escribirme", stop},
		{"Quiero darme de baja", stop},
		{"número equivocado", stop},
		// words that look like an opt-out and are not
		{"stopping by the market later", text("stopping by the market later")},
		{"nonstop texting all day", text("nonstop texting all day")},
		{"I can't stop thinking about my sister", text("I can't stop thinking about my sister")},
		{"can't stop smiling", text("can't stop smiling")},
		{"Don't stop me now", text("Don't stop me now")},
		{"waited at the bus stop", text("waited at the bus stop")},
		{"trying to stop smoking", text("trying to stop smoking")},
		{"will stop by her place", text("will stop by her place")},
		{"the end of the week was good", text("the end of the week was good")},
		{"I quit my job", text("I quit my job")},
		{"para mi hermana", text("para mi hermana")},
		{"fui a ver a mi hermana para su cumple", text("fui a ver a mi hermana para su cumple")},
		{"estoy baja de ánimo", text("estoy baja de ánimo")},
		{"mi hermano es muy alto", text("mi hermano es muy alto")},
		{"top of the morning", text("top of the morning")},
		{"one step at a time", text("one step at a time")},
		{"my friends always remove me from their plans", text("my friends always remove me from their plans")},
		{"don't send me pictures of spiders lol", text("don't send me pictures of spiders lol")},
		{"no me mandes fotos de arañas", text("no me mandes fotos de arañas")},
		{"please don't send me any more of these", stop},
		{"no me manden más", stop},
		// opt-in, confirmation, help, pause, link
		{"START", Match{Kind: Start}},
		{"unstop", Match{Kind: Start}},
		{"Start again please", Match{Kind: Start}},
		{"ALTA", Match{Kind: Start}},
		{"Yes", Match{Kind: Yes}},
		{"yes!", Match{Kind: Yes}},
		{"YESSS", Match{Kind: Yes}},
		{"yes please", Match{Kind: Yes}},
		{"Sí", Match{Kind: Yes}},
		{"SI", Match{Kind: Yes}},
		{"si, por favor", Match{Kind: Yes}},
		{"Ｙｅｓ", Match{Kind: Yes}},
		{"y", text("y")},
		{"yes I did it", text("yes I did it")},
		{"si mañana puedo la llamo", text("si mañana puedo la llamo")},
		{"HELP", Match{Kind: Help}},
		{"info?", Match{Kind: Help}},
		{"AYUDA", Match{Kind: Help}},
		{"ayuda por favor", Match{Kind: Help}},
		{"pause", Match{Kind: Pause}},
		{"PAUSA", Match{Kind: Pause}},
		{"pause please", Match{Kind: Pause}},
		{"LINK", Match{Kind: Link}},
		{"manage", Match{Kind: Link}},
		{"send me the link", Match{Kind: Link}},
		{"enlace", Match{Kind: Link}},
		// ratings
		{"3", rating(3, "")},
		{" 5 ", rating(5, "")},
		{"3!", rating(3, "")},
		{"３", rating(3, "")},
		{"2/5", rating(2, "")},
		{"4 out of 5", rating(4, "")},
		{"4 de 5, bien", rating(4, "bien")},
		{"3 saw my brother", rating(3, "saw my brother")},
		{"5 - great week", rating(5, "great week")},
		{"1 😞", rating(1, "😞")},
		{"4 vi a mi hermano", rating(4, "vi a mi hermano")},
		{"2. Not great, honestly", rating(2, "Not great, honestly")},
		{"6", text("6")},
		{"0", text("0")},
		{"10", text("10")},
		{"3.5", text("3.5")},
		{"3/10", text("3/10")},
		{"1st time in ages I called her", text("1st time in ages I called her")},
		// notes
		{"I called my sister, it went well", text("I called my sister, it went well")},
		{"  hablé con mi vecina  ", text("hablé con mi vecina")},
		{"a\u202ebc", text("abc")},
		{"", text("")},
	}
	if len(tests) < 80 {
		t.Fatalf("only %d bodies in the table", len(tests))
	}
	for _, tt := range tests {
		got := Read(tt.body)
		got.Distress, got.Rule = false, "" // distress has its own tests below
		if got != tt.want {
			t.Errorf("Read(%q) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func TestReadReportsDistressWithAnyKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		kind Kind
	}{
		{"I want to kill myself", Text},
		{"1 i want to die", Rating},
		{"STOP i want to die", Stop},
		{"me quiero morir", Text},
		{"help me", Help},
	}
	for _, tt := range tests {
		m := Read(tt.body)
		if m.Kind != tt.kind || !m.Distress || m.Rule == "" {
			t.Errorf("Read(%q) = %+v, want kind %v with distress and a rule", tt.body, m, tt.kind)
		}
	}
	if m := Read("3 saw my brother"); m.Distress || m.Rule != "" {
		t.Errorf("an ordinary rating is read as distress: %+v", m)
	}
}

func TestNormalise(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"  STOP!!  ", "stop"},
		{"ＳＴＯＰ", "stop"},
		{"S\u200bT\u200cO\u200dP\ufeff", "stop"},
		{"\u202aSTOP\u202c \u2066x\u2069", "stop x"},
		{"No más mensajes.", "no mas mensajes"},
		{"Dejen de escribirme 🙏🙏", "dejen de escribirme"},
		{"Ñandú ÀÉÎÕÜ", "nandu aeiou"},
		{"e\u0301", "e"},
		{"don't — I’m fine", "dont im fine"},
		{"Straße", "strasse"},
		{"ﬁne", "fine"},
		{"line1\nline2\tend", "line1 line2 end"},
		{"\x00\xffstop", "stop"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalise(tt.in); got != tt.want {
			t.Errorf("Normalise(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"stop", "stop", 0}, {"stpo", "stop", 1}, {"sotp", "stop", 1}, {"stp", "stop", 1},
		{"stopp", "stop", 1}, {"spot", "stop", 2}, {"", "stop", 4}, {"unsuscribe", "unsubscribe", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, s := range []string{"STOP", "stop texting me", "3", "yes", "¿Qué?", "\x00", "ＳＴＯＰ", "stop\u200b",
		"3 saw my brother", "2/5", "4 out of 5", "no me escribas más", "\u202eSTOP", "e\u0301", "Straße",
		"ﬁ", "1 i want to die", "3/1", "5 de", "ǅ", "ΐ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		m := Read(body) // never panics
		if (m.Kind == Rating) != (m.Rating >= 1 && m.Rating <= 5) {
			t.Fatalf("Read(%q) = kind %v with rating %d", body, m.Kind, m.Rating)
		}
		if m.Distress != (m.Rule != "") {
			t.Fatalf("Read(%q) = distress %v with rule %q", body, m.Distress, m.Rule)
		}
		if m.Carrier && m.Kind != Stop {
			t.Fatalf("Read(%q) is a carrier word but %v", body, m.Kind)
		}
		n := Normalise(body)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalise(%q) = %q is not valid UTF-8", body, n)
		}
		if again := Normalise(n); again != n {
			t.Fatalf("Normalise is not idempotent on %q: %q then %q", body, n, again)
		}
	})
}
