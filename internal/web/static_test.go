package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

func TestStaticServesFilesOnly(t *testing.T) {
	t.Parallel()
	embedded, err := fs.Sub(staticFiles, "static")
	if err != nil {
		t.Fatal(err)
	}
	mapped := fstest.MapFS{"site.css": {Data: []byte("body{}")}, "img/logo.svg": {Data: []byte("<svg/>")}}
	for _, tc := range []struct {
		fsys fs.FS
		path string
		want int
	}{
		{embedded, "/static/site.css", http.StatusOK},
		{embedded, "/static/", http.StatusNotFound},
		{embedded, "/static/nothing.css", http.StatusNotFound},
		{mapped, "/static/img/logo.svg", http.StatusOK},
		{mapped, "/static/img/", http.StatusNotFound},
		{mapped, "/static/img", http.StatusNotFound},
	} {
		mux := http.NewServeMux()
		mux.Handle("GET /static/", http.StripPrefix("/static/", filesOnly(tc.fsys)))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("GET %s = %d, want %d\n%s", tc.path, rec.Code, tc.want, rec.Body)
		}
	}
}
