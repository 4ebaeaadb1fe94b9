package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/serving"
	"github.com/prodcat/prodcat/internal/text"
)

// Limits of a prediction request. Listings of the catalogue have titles of
// a few hundred bytes and descriptions of up to about 12 kB of HTML.
const (
	maxDesignationBytes = 4 << 10
	maxDescriptionBytes = 64 << 10
	maxBatchItems       = 100
	defaultTopK         = 3
	maxTopK             = 10
	maxExplain          = 20
)

type productInput struct {
	Designation string `json:"designation"`
	Description string `json:"description"`
}

// predictRequest is one product (designation, description) or a batch
// (items); top_k and explain apply to each.
type predictRequest struct {
	Designation string         `json:"designation"`
	Description string         `json:"description"`
	Items       []productInput `json:"items"`
	TopK        int            `json:"top_k"`
	// Explain asks for the words that weigh most in each prediction, up
	// to this many.
	Explain int `json:"explain"`
}

func (s *server) predict(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	m := s.models.Current()
	if m == nil && s.models.Loading() {
		return &apiError{status: http.StatusServiceUnavailable, code: codeNotReady, retryAfter: 2 * time.Second,
			message: "the production model is not loaded yet: the API has just started, or the artifact store or the registry does not answer (see /readyz and the API's logs); try again in a moment"}
	}
	if m == nil {
		return &apiError{status: http.StatusServiceUnavailable, code: codeNoModel, retryAfter: dependencyRetryAfter,
			message: "no model is being served yet: either none is promoted to production (train one with starter train ... --wait, " +
				"or promote a challenger with starter models promote VERSION; the API loads it as soon as the alias moves) or loading it failed, say while the artifact store is down (see /readyz and the API's logs)"}
	}
	sc := s.getScratch()
	defer s.putScratch(sc)
	body, err := s.readBody(w, r, sc.buf)
	sc.buf = body[:0]
	if err != nil {
		return err
	}
	req := &sc.req
	if err := decodeJSON(body, req, false); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	k := req.TopK
	if k == 0 {
		k = defaultTopK
	}

	enc := s.encoding(m)
	out := body[:0] // the body is decoded; reuse its buffer for the answer
	predict := func(b []byte, designation, description string) []byte {
		p := m.Predict(designation, description, k)
		var why []model.Contribution
		if req.Explain > 0 {
			why = m.Explain(designation, description, p.Best.Code, req.Explain)
		}
		return enc.appendPrediction(b, p, why)
	}
	if req.Items == nil {
		out = predict(out, req.Designation, req.Description)
	} else {
		out = append(out, `{"predictions":[`...)
		for i, it := range req.Items {
			if i > 0 {
				out = append(out, ',')
			}
			out = predict(out, it.Designation, it.Description)
		}
		out = append(out, "]}"...)
	}
	out = append(out, '\n')
	sc.buf = out[:0]
	// One shared, never modified value: Header().Set would allocate a
	// slice per answer.
	w.Header()["Content-Type"] = s.jsonContentType
	_, _ = w.Write(out) // a failed write means the client left
	return nil
}

// scratch is what a request reuses from an earlier one: the buffer that
// holds its body and then its answer, and the decoded prediction request.
type scratch struct {
	buf []byte
	req predictRequest
}

// maxPooledBuffer is the largest buffer kept for reuse; a rare large
// batch should not pin its memory.
const maxPooledBuffer = 256 << 10

func (s *server) getScratch() *scratch {
	sc := s.scratch.Get().(*scratch)
	sc.req = predictRequest{} // a request decodes into zero values
	return sc
}

func (s *server) putScratch(sc *scratch) {
	if cap(sc.buf) > maxPooledBuffer {
		sc.buf = make([]byte, 0, 4<<10)
	}
	s.scratch.Put(sc)
}

func (req *predictRequest) validate() error {
	if req.TopK < 0 || req.TopK > maxTopK {
		return badRequest("top_k %d: want 1 to %d, or 0 for the default %d", req.TopK, maxTopK, defaultTopK)
	}
	if req.Explain < 0 || req.Explain > maxExplain {
		return badRequest("explain %d: want the number of words to show, 1 to %d, or 0 for none", req.Explain, maxExplain)
	}
	if req.Items == nil {
		return checkProduct("", req.Designation, req.Description)
	}
	if req.Designation != "" || req.Description != "" {
		return badRequest("give either one product (designation, description) or items, not both")
	}
	switch n := len(req.Items); {
	case n == 0:
		return badRequest("items is empty")
	case n > maxBatchItems:
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "%d items; a batch holds at most %d", n, maxBatchItems)
	}
	for i, it := range req.Items {
		if err := checkProduct("items["+strconv.Itoa(i)+"].", it.Designation, it.Description); err != nil {
			return err
		}
	}
	return nil
}

func checkProduct(prefix, designation, description string) error {
	switch {
	case len(designation) > maxDesignationBytes:
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "%sdesignation is %d bytes; the limit is %d", prefix, len(designation), maxDesignationBytes)
	case len(description) > maxDescriptionBytes:
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "%sdescription is %d bytes; the limit is %d", prefix, len(description), maxDescriptionBytes)
	case designation == "" && description == "" && prefix == "":
		return badRequest("give a product's designation and/or description, or items")
	case designation == "" && description == "":
		return badRequest("%s: give a designation and/or a description", strings.TrimSuffix(prefix, "."))
	case !text.HasText(designation) && !text.HasText(description):
		// Markup, punctuation or spaces alone would be classified by the
		// model's intercepts: a confident answer about nothing.
		return badRequest("%sdesignation and %sdescription have no letter or digit (markup, punctuation or spaces alone): nothing to classify", prefix, prefix)
	}
	return nil
}

// encodedModel holds the JSON of what does not change between answers of
// one model version: each label's code and names, and the model's name and
// version. Answers are assembled from these fragments without reflection.
type encodedModel struct {
	m      *serving.Model
	labels map[string]*encodedLabel
	model  []byte // "model":{"name":…,"version":…}
}

// maxClassSeries bounds the per-class series of
// prodcat_predictions_total; the classes past it share otherClasses.
const (
	maxClassSeries = 100
	otherClasses   = "_other"
)

type encodedLabel struct {
	json      []byte // "prdtypecode":…,"category":…,"category_fr":…
	predicted prometheus.Counter
}

// encoding returns the fragments of m, building them on m's first use.
func (s *server) encoding(m *serving.Model) *encodedModel {
	if e := s.encoded.Load(); e != nil && e.m == m {
		return e
	}
	e := &encodedModel{m: m, labels: make(map[string]*encodedLabel, len(m.Labels))}
	for i, l := range m.Labels {
		// A series per class, up to a bound: a model trained on a
		// generic CSV may have thousands, and series are never dropped.
		class := l.Code
		if i >= maxClassSeries {
			class = otherClasses
		}
		e.labels[l.Code] = &encodedLabel{json: labelJSON(l), predicted: s.metrics.predicted.WithLabelValues(class)}
	}
	e.model = append(e.model, `"model":`...)
	e.model = append(e.model, mustJSON(modelRef{Name: m.Name, Version: m.Version})...)
	s.encoded.Store(e) // racing first requests build equal fragments
	return e
}

type modelRef struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// labelJSON is the fields of a label in an answer, with the names the model
// file gives it: a model of other data than the challenge's has none, and
// its codes, even if they look like prdtypecodes, mean something else.
func labelJSON(l model.Label) []byte {
	en, fr := l.EN, l.FR
	if en == "" {
		en = l.Code
	}
	b := append([]byte(`"prdtypecode":`), mustJSON(l.Code)...)
	b = append(append(b, `,"category":`...), mustJSON(en)...)
	b = append(append(b, `,"category_fr":`...), mustJSON(fr)...)
	return b
}

// mustJSON marshals strings and ints, which cannot fail.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// appendPrediction appends the answer for one product, with the words
// that explain it when why is not nil:
//
//	{"prdtypecode","category","category_fr","probability","top_k":[…],"explanation":[…],"model":{"name","version"}}
func (e *encodedModel) appendPrediction(b []byte, p model.Prediction, why []model.Contribution) []byte {
	b = append(b, '{')
	b = e.appendScored(b, p.Best)
	b = append(b, `,"top_k":[`...)
	for i, s := range p.Top {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = e.appendScored(b, s)
		b = append(b, '}')
	}
	b = append(b, "],"...)
	if why != nil {
		b = append(b, `"explanation":[`...)
		for i, c := range why {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"text":`...)
			b = append(b, mustJSON(c.Text)...)
			b = append(b, `,"weight":`...)
			b = strconv.AppendFloat(b, c.Weight, 'g', 4, 64)
			b = append(b, '}')
		}
		b = append(b, "],"...)
	}
	b = append(b, e.model...)
	b = append(b, '}')
	if l := e.labels[p.Best.Code]; l != nil {
		l.predicted.Inc()
	}
	return b
}

func (e *encodedModel) appendScored(b []byte, s model.Scored) []byte {
	if l := e.labels[s.Code]; l != nil {
		b = append(b, l.json...)
	} else {
		b = append(b, labelJSON(s.Label)...) // not a label of the model: cannot happen
	}
	b = append(b, `,"probability":`...)
	prob := s.Prob
	if !(prob >= 0) { // also NaN
		prob = 0
	}
	return strconv.AppendFloat(b, min(prob, 1), 'g', 6, 64)
}
