package main

import (
	_ "embed"
	"net/http"

	"github.com/prodcat/prodcat/internal/auth"
)

// openAPIDocument describes every API route; TestOpenAPIMatchesRoutes
// keeps it in step with server.routes.
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *server) openAPI(w http.ResponseWriter, _ *http.Request, _ *auth.Principal) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
	return nil
}
