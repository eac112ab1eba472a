package keyword

import "testing"

// BenchmarkRead reads a typical reply: a rating with a short note.
func BenchmarkRead(b *testing.B) {
	for b.Loop() {
		Read("4 called my aunt for the first time in months, it went really well")
	}
}

// BenchmarkReadLong reads a text at Twilio's limit of 1,600 characters.
func BenchmarkReadLong(b *testing.B) {
	body := ""
	for len(body) < 1600 {
		body += "Had a quiet week, called my sister on Sunday and we talked for an hour. "
	}
	for b.Loop() {
		Read(body[:1600])
	}
}
