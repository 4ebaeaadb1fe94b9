package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// readBody reads the request body, at most maxBodyBytes of it, into buf.
func (s *server) readBody(w http.ResponseWriter, r *http.Request, buf []byte) ([]byte, error) {
	if r.ContentLength > s.maxBodyBytes {
		return buf, tooLargeBody(s.maxBodyBytes)
	}
	body := http.MaxBytesReader(w, r.Body, s.maxBodyBytes)
	b := buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return b, tooLargeBody(mbe.Limit)
			}
			if e := clientReadError(r, err, "the request body", readTimeout); e != nil {
				return b, e
			}
			return b, badRequest("the request body could not be read")
		}
	}
}

func tooLargeBody(limit int64) *apiError {
	return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body larger than %d bytes", limit)
}

// decodeJSON decodes one JSON value from body into v, rejecting unknown
// fields and anything after the value. An empty body is an error unless
// emptyOK, in which case v keeps its values.
func decodeJSON(body []byte, v any, emptyOK bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		// encoding/json would turn the bad bytes into U+FFFD unseen.
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the body is not UTF-8 (Latin-1?); send UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, codeInvalidJSON, "unexpected data after the JSON object")
	}
	return nil
}

// jsonError explains a decoding error to the caller.
func jsonError(err error) *apiError {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return errorf(http.StatusBadRequest, codeInvalidJSON, "invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the JSON is cut short")
	case errors.As(err, &typ):
		field := jsonPath(typ.Field)
		if field == "" {
			return errorf(http.StatusBadRequest, codeInvalidJSON, "want a JSON object, got %s", typ.Value)
		}
		return errorf(http.StatusBadRequest, codeInvalidJSON, "field %s: want %s, got %s", field, jsonType(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this one.
		return errorf(http.StatusBadRequest, codeUnknownField, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return errorf(http.StatusBadRequest, codeInvalidJSON, "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// embeddedStructs are the Go type names encoding/json puts in a field's
// path for the structs a request embeds; they are not JSON names.
var embeddedStructs = map[string]bool{"trainingSpec": true}

// jsonPath drops the embedded structs' names from an encoding/json field
// path, leaving the JSON names a caller sent.
func jsonPath(field string) string {
	parts := strings.Split(field, ".")
	return strings.Join(slices.DeleteFunc(parts, func(p string) bool { return embeddedStructs[p] }), ".")
}

// jsonType names a Go type the way a JSON user would.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.Kind().String()
}

// decodeRequest reads the request body into a pooled buffer and decodes it
// into v as decodeJSON does: the common start of the admin handlers.
func (s *server) decodeRequest(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	sc := s.getScratch()
	defer s.putScratch(sc)
	body, err := s.readBody(w, r, sc.buf)
	sc.buf = body[:0]
	if err != nil {
		return err
	}
	return decodeJSON(body, v, emptyOK)
}
