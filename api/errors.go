package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.temporal.io/api/serviceerror"

	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/schedule"
)

// Error codes of the "code" field of error answers.
const (
	codeBadRequest       = "bad_request"
	codeInvalidJSON      = "invalid_json"
	codeUnknownField     = "unknown_field"
	codeTooLarge         = "too_large"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeUnsupportedType  = "unsupported_media_type"
	codeTimeout          = "timeout"
	codeConflict         = "conflict"
	codeNoModel          = "no_model"
	codeNotReady         = "not_ready"
	codeUnavailable      = "unavailable"
	codeInternal         = "internal"
	codeClientClosed     = "client_closed"
)

// statusClientClosed is the status logged (and counted) for a request whose
// client went away before the answer; nginx's convention.
const statusClientClosed = 499

// apiError is an error with the HTTP status and code to answer it with.
// Its message is shown to the caller; cause, when set, is only logged.
type apiError struct {
	status  int
	code    string
	message string
	cause   error
	// retryAfter, when set, is sent as Retry-After.
	retryAfter time.Duration
	// dependency names the service that failed (unavailable): its
	// outage is logged as a warning on each request, not as our failure.
	dependency string
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.message + ": " + e.cause.Error()
	}
	return e.message
}

func (e *apiError) Unwrap() error { return e.cause }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, codeBadRequest, format, args...)
}

// unavailable reports a dependency that failed: the caller learns which
// one, the log gets the details.
func unavailable(dependency string, err error) *apiError {
	ae := &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
		message: dependency + " is unavailable; try again later", cause: err}
	if errors.Is(err, context.DeadlineExceeded) {
		ae.message = dependency + " did not answer in time; try again later"
	}
	if outage(err) {
		// Waiting mends it: say when to try again, and log it as the
		// dependency's state rather than a failure of ours.
		ae.retryAfter, ae.dependency = dependencyRetryAfter, dependency
	}
	return ae
}

// outage reports whether err says that a dependency is down or slow,
// which waiting mends, rather than that it failed otherwise (a schema out
// of date, a permission refused, a bug).
func outage(err error) bool {
	var (
		down      *serviceerror.Unavailable
		late      *serviceerror.DeadlineExceeded
		exhausted *serviceerror.ResourceExhausted
	)
	return registry.Unreachable(err) || errors.As(err, &down) || errors.As(err, &late) || errors.As(err, &exhausted)
}

// dependencyFields name the dependencies in the log's dependency field, as
// alerts match them; the answers name them in words.
var dependencyFields = map[string]string{
	"the registry": "postgresql", "the artifact store": "s3", "Temporal": "temporal", "authentication": "auth",
}

// dependencyField returns the log field of the dependency named name.
func dependencyField(name string) string {
	if f, ok := dependencyFields[name]; ok {
		return f
	}
	return name
}

// dependencyRetryAfter is the Retry-After of an answer that a dependency
// is down: long enough not to hammer it while it comes back.
const dependencyRetryAfter = 5 * time.Second

// fromDependency turns an error of the registry, the schedule manager or
// Temporal into an answer: the sentinels become 400, 404 and 409 with
// their own (safe, specific) message, anything else 503. An answer the API
// made itself, returned through a dependency's callback, stands.
func fromDependency(dependency string, err error) *apiError {
	var (
		nf  *serviceerror.NotFound
		inv *serviceerror.InvalidArgument
		ae  *apiError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, schedule.ErrNotFound), errors.As(err, &nf):
		return &apiError{status: http.StatusNotFound, code: codeNotFound, message: clientMessage(err)}
	case errors.Is(err, registry.ErrInvalid), errors.As(err, &inv):
		return &apiError{status: http.StatusBadRequest, code: codeBadRequest, message: clientMessage(err)}
	case errors.Is(err, registry.ErrConflict):
		return &apiError{status: http.StatusConflict, code: codeConflict, message: clientMessage(err)}
	}
	return unavailable(dependency, err)
}

// clientMessage is a registry error's text for the caller: without the
// package's prefix, and without ": conflict" at its end, which the status
// code already says after a message that gives the reason. "not found"
// and "invalid input" stay: they are often all the message says.
func clientMessage(err error) string {
	return strings.TrimSuffix(strings.TrimPrefix(err.Error(), "registry: "), ": "+registry.ErrConflict.Error())
}

// checkTemporalID answers 404 for an ID from a URL that no workflow or
// schedule can have, before Temporal's client fails to encode it (invalid
// UTF-8) and the failure reads as Temporal being down.
func checkTemporalID(kind, id string) error {
	if !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
		return errorf(http.StatusNotFound, codeNotFound, "no %s %q", kind, id)
	}
	return nil
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers with the JSON error shape every endpoint uses.
func writeError(w http.ResponseWriter, status int, code, message string) {
	body, err := json.Marshal(errorBody{errorDetail{Code: code, Message: message}})
	if err != nil { // cannot happen with two strings
		body = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
