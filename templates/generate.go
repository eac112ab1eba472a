package templates

// The guide's fingerprint, which the copy is checked against (see
// templates/internal/guideprint), is rebuilt from the guide when it is beside
// the checkout.
//go:generate go run ./internal/guideprint/gen -out guide_fingerprint.txt
