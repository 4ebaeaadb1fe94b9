package main

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/prodcat/prodcat/internal/auth"
)

// web holds the demo page: its template and its static assets, embedded so
// that the binary is self-contained and the page needs no network.
//
//go:embed web/index.html web/static
var web embed.FS

// pages renders the demo page.
type pages struct {
	index  *template.Template
	static fs.FS
}

func newPages() (*pages, error) {
	index, err := template.ParseFS(web, "web/index.html")
	if err != nil {
		return nil, fmt.Errorf("api: demo page template: %w", err)
	}
	static, err := fs.Sub(web, "web/static")
	if err != nil {
		return nil, fmt.Errorf("api: demo page assets: %w", err)
	}
	return &pages{index: index, static: static}, nil
}

// pageData is what the page template shows before its script runs.
type pageData struct {
	ModelName  string
	Served     *modelRef
	TemporalUI string
}

// demoPage serves the page; its data comes from the JSON API, called by
// the page's script with the credentials the user signs in with.
func (s *server) demoPage(w http.ResponseWriter, _ *http.Request, _ *auth.Principal) error {
	data := pageData{ModelName: s.modelName, TemporalUI: s.temporalUI}
	if m := s.models.Current(); m != nil {
		data.Served = &modelRef{Name: m.Name, Version: m.Version}
	}
	var buf bytes.Buffer
	if err := s.pages.index.Execute(&buf, data); err != nil {
		return fmt.Errorf("render the demo page: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
	return nil
}

// static serves the page's assets.
func (s *server) static(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	name := r.PathValue("file")
	if !fs.ValidPath(name) {
		return errorf(http.StatusNotFound, codeNotFound, "no such asset")
	}
	if _, err := fs.Stat(s.pages.static, name); err != nil {
		return errorf(http.StatusNotFound, codeNotFound, "no such asset %q", name)
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, s.pages.static, name)
	return nil
}
