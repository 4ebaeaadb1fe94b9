package main

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/serving"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
)

type scoredJSON struct {
	Code        string  `json:"prdtypecode"`
	Category    string  `json:"category"`
	CategoryFR  string  `json:"category_fr"`
	Probability float64 `json:"probability"`
}

type predictionJSON struct {
	scoredJSON
	TopK  []scoredJSON `json:"top_k"`
	Model modelRef     `json:"model"`
}

func checkPrediction(t *testing.T, p predictionJSON, k int) {
	t.Helper()
	if len(p.TopK) != k {
		t.Fatalf("%d top labels, want %d", len(p.TopK), k)
	}
	if p.scoredJSON != p.TopK[0] {
		t.Errorf("best %+v is not the first of the top %+v", p.scoredJSON, p.TopK[0])
	}
	if p.Model != (modelRef{Name: testModel, Version: 1}) {
		t.Errorf("model %+v, want %s v1", p.Model, testModel)
	}
	sum := 0.0
	for i, s := range p.TopK {
		if s.Code == "" || s.Category == "" || s.CategoryFR == "" {
			t.Errorf("top %d has empty fields: %+v", i, s)
		}
		if s.Probability < 0 || s.Probability > 1 || (i > 0 && s.Probability > p.TopK[i-1].Probability) {
			t.Errorf("top %d probability %v out of order or range", i, s.Probability)
		}
		sum += s.Probability
	}
	if sum > 1+1e-5 {
		t.Errorf("top probabilities sum to %v", sum)
	}
}

func TestPredictOne(t *testing.T) {
	h := newHarness(t)
	w := h.do("POST", "/v1/predict", asPredict, `{"designation": "Pompe de filtration pour piscine hors sol", "description": "<b>4 m3/h</b>"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var p predictionJSON
	decodeBody(t, w, &p)
	checkPrediction(t, p, defaultTopK)
	if p.Code != "2583" || p.Category != "Pool and spa" || p.CategoryFR != "Piscine et spa" {
		t.Errorf("a pool pump is %+v, want 2583 Pool and spa / Piscine et spa", p.scoredJSON)
	}

	// An admin may predict too, and top_k is honoured.
	w = h.do("POST", "/v1/predict", asAdmin, `{"designation": "Manette sans fil", "top_k": 1}`)
	decodeBody(t, w, &p)
	checkPrediction(t, p, 1)
	if p.Code != "50" {
		t.Errorf("a controller is %s, want 50", p.Code)
	}
}

// explain names the words that weigh most in each prediction, telling
// first, and only when asked.
func TestPredictExplain(t *testing.T) {
	h := newHarness(t)
	type explained struct {
		predictionJSON
		Explanation []struct {
			Text   string  `json:"text"`
			Weight float64 `json:"weight"`
		} `json:"explanation"`
	}
	var p explained
	decodeBody(t, h.do("POST", "/v1/predict", asPredict, `{"designation": "Pompe de filtration pour piscine", "explain": 3}`), &p)
	checkPrediction(t, p.predictionJSON, defaultTopK)
	if len(p.Explanation) != 3 || p.Explanation[0].Text != "piscine" || p.Explanation[0].Weight <= 0 {
		t.Errorf("explanation %+v, want 3 words, piscine first and for the pool category", p.Explanation)
	}
	var b struct {
		Predictions []explained `json:"predictions"`
	}
	decodeBody(t, h.do("POST", "/v1/predict", asPredict, `{"items": [{"designation": "Manette sans fil"}, {"designation": "Roman policier"}], "explain": 1}`), &b)
	if len(b.Predictions) != 2 || len(b.Predictions[0].Explanation) != 1 || len(b.Predictions[1].Explanation) != 1 {
		t.Errorf("batch explanations %+v", b)
	}
	w := h.do("POST", "/v1/predict", asPredict, `{"designation": "Manette sans fil"}`)
	if strings.Contains(w.Body.String(), "explanation") {
		t.Errorf("an explanation no one asked for: %s", w.Body)
	}
	for _, body := range []string{`{"designation": "x", "explain": 21}`, `{"designation": "x", "explain": -1}`} {
		if msg := wantError(t, h.do("POST", "/v1/predict", asPredict, body), 400, codeBadRequest); !strings.Contains(msg, "explain") {
			t.Errorf("%s: %s", body, msg)
		}
	}
}

func TestPredictBatch(t *testing.T) {
	h := newHarness(t)
	w := h.do("POST", "/v1/predict", asPredict, `{"items": [
		{"designation": "Robot nettoyeur de piscine"},
		{"designation": "Roman policier broché", "description": "Livre neuf"},
		{"description": "Manette de jeu sans fil pour console"}], "top_k": 2}`)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var b struct {
		Predictions []predictionJSON `json:"predictions"`
	}
	decodeBody(t, w, &b)
	want := []string{"2583", "2705", "50"}
	if len(b.Predictions) != len(want) {
		t.Fatalf("%d predictions for 3 items", len(b.Predictions))
	}
	for i, p := range b.Predictions {
		checkPrediction(t, p, 2)
		if p.Code != want[i] {
			t.Errorf("item %d: %s, want %s", i, p.Code, want[i])
		}
	}
}

func TestPredictErrors(t *testing.T) {
	items := func(n int) string {
		return `{"items": [` + strings.TrimSuffix(strings.Repeat(`{"designation": "x"},`, n), ",") + `]}`
	}
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
		want       string // in the message, when set
	}{
		{"empty body", "", 400, codeInvalidJSON, ""},
		{"no product", `{}`, 400, codeBadRequest, "give a product's designation and/or description, or items"},
		{"null items", `{"items": null}`, 400, codeBadRequest, "give a product's designation and/or description, or items"},
		{"not JSON", "designation=x", 400, codeInvalidJSON, ""},
		{"bad JSON", `{"designation": "x",}`, 400, codeInvalidJSON, ""},
		{"truncated JSON", `{"designation": "x"`, 400, codeInvalidJSON, ""},
		{"array", `[{"designation": "x"}]`, 400, codeInvalidJSON, ""},
		{"wrong type", `{"designation": 42}`, 400, codeInvalidJSON, ""},
		{"unknown field", `{"designation": "x", "price": 3}`, 400, codeUnknownField, ""},
		{"unknown field in an item", `{"items": [{"designation": "x", "price": 3}]}`, 400, codeUnknownField, ""},
		{"trailing data", `{"designation": "x"} {"designation": "y"}`, 400, codeInvalidJSON, ""},
		{"nothing to classify", `{"designation": "  ", "description": ""}`, 400, codeBadRequest, ""},
		{"punctuation only", `{"designation": "!!! --"}`, 400, codeBadRequest, ""},
		{"markup only", `{"designation": "&nbsp;", "description": "<br><p></p>"}`, 400, codeBadRequest, "designation and description have no letter or digit"},
		{"invisible only", `{"designation": "\u200b\u0000"}`, 400, codeBadRequest, ""},
		{"empty item", `{"items": [{"designation": "x"}, {}]}`, 400, codeBadRequest, "items[1]: give a designation and/or a description"},
		{"punctuation item", `{"items": [{"designation": "x"}, {"designation": "--"}]}`, 400, codeBadRequest, ""},
		{"both one and items", `{"designation": "x", "items": [{"designation": "y"}]}`, 400, codeBadRequest, ""},
		{"empty batch", `{"items": []}`, 400, codeBadRequest, ""},
		{"top_k too large", `{"designation": "x", "top_k": 11}`, 400, codeBadRequest, ""},
		{"top_k negative", `{"designation": "x", "top_k": -1}`, 400, codeBadRequest, ""},
		{"batch too large", items(maxBatchItems + 1), 413, codeTooLarge, ""},
		{"designation too long", fmt.Sprintf(`{"designation": %q}`, strings.Repeat("é", maxDesignationBytes/2+1)), 413, codeTooLarge, ""},
		{"description too long", fmt.Sprintf(`{"designation": "x", "description": %q}`, strings.Repeat("a", maxDescriptionBytes+1)), 413, codeTooLarge, ""},
		{"item too long", fmt.Sprintf(`{"items": [{"designation": %q}]}`, strings.Repeat("a", maxDesignationBytes+1)), 413, codeTooLarge, ""},
		{"body too large", fmt.Sprintf(`{"designation": "x", "description": %q}`, strings.Repeat("a", testMaxBody)), 413, codeTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			w := h.do("POST", "/v1/predict", asPredict, tc.body)
			msg := wantError(t, w, tc.status, tc.code)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("message %q, want %q", msg, tc.want)
			}
		})
	}
}

func TestPredictWithoutModel(t *testing.T) {
	h := newHarness(t)
	h.models.set(nil)
	w := h.do("POST", "/v1/predict", asPredict, `{"designation": "x"}`)
	if msg := wantError(t, w, 503, codeNoModel); !strings.Contains(msg, "no model") {
		t.Errorf("message %q does not say there is no model", msg)
	}
}

// Just after start, before the first load has finished, the answer says
// the model is loading and when to try again, not that there is none.
func TestPredictWhileTheModelLoads(t *testing.T) {
	h := newHarness(t)
	h.models.set(nil)
	h.models.loading = true
	w := h.do("POST", "/v1/predict", asPredict, `{"designation": "x"}`)
	if msg := wantError(t, w, 503, codeNotReady); !strings.Contains(msg, "not loaded yet") || !strings.Contains(msg, "artifact store") || w.Header().Get("Retry-After") != "2" {
		t.Errorf("message %q, Retry-After %q", msg, w.Header().Get("Retry-After"))
	}
}

func TestPredictAuth(t *testing.T) {
	h := newHarness(t)
	w := h.do("POST", "/v1/predict", anonymous, `{"designation": "x"}`)
	wantError(t, w, 401, codeUnauthorized)
	if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="prodcat"`) {
		t.Errorf("WWW-Authenticate %q", got)
	}
	req := func(user, pass string) int {
		w := h.doAuth("POST", "/v1/predict", user, pass, `{"designation": "x"}`)
		if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		return w.Code
	}
	if c := req(predictUser, "wrong"); c != 401 {
		t.Errorf("wrong password: %d", c)
	}
	// The demo page asks for no challenge, which would make a browser hold
	// the request for its own login prompt.
	r := httptest.NewRequest("GET", "/v1/whoami", nil)
	r.SetBasicAuth(predictUser, "wrong")
	r.Header.Set("X-Prodcat-Page", "1")
	pw := httptest.NewRecorder()
	h.h.ServeHTTP(pw, r)
	if pw.Code != 401 || pw.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("the page's refused request: %d, WWW-Authenticate %q", pw.Code, pw.Header().Get("WWW-Authenticate"))
	}
	if c := req("nobody", predictPass); c != 401 {
		t.Errorf("unknown user: %d", c)
	}
	if c := req(predictUser, predictPass); c != 200 {
		t.Errorf("right password: %d", c)
	}
}

func TestAppendPredictionClampsProbabilities(t *testing.T) {
	h := newHarness(t)
	enc := h.srv.encoding(h.model)
	p := h.model.Predict("piscine", "", 2)
	p.Top[0].Prob, p.Top[1].Prob = math.NaN(), 1.5
	p.Best = p.Top[0]
	out := string(enc.appendPrediction(nil, p, nil))
	if strings.Contains(out, "NaN") || !strings.Contains(out, `"probability":0,`) || !strings.Contains(out, `"probability":1}`) {
		t.Errorf("out-of-range probabilities not clamped: %s", out)
	}
}

// BenchmarkPredict measures the whole handler (routing, cached
// authentication, decoding, prediction, encoding, metrics) on the small
// test model, so it shows the API's own cost.
func BenchmarkPredict(b *testing.B) {
	h := newHarness(b)
	body := `{"designation": "Grand stylet ergonomique bleu pour manette de console", "description": "Stylet tactile de marque, ergonomique, pour manette."}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := h.do("POST", "/v1/predict", asPredict, body)
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}

// A model with many classes gets a predictions series for its first 100
// only; the others share one, since series are never dropped.
func TestPredictionSeriesAreBounded(t *testing.T) {
	h := newHarness(t)
	var ex []dataset.Example
	for i := range 120 {
		for j := range 2 {
			ex = append(ex, dataset.Example{ID: fmt.Sprintf("%d-%d", i, j), Title: fmt.Sprintf("article%03d modele %d", i, j), Label: fmt.Sprintf("c%03d", i)})
		}
	}
	p := classifier.DefaultParams()
	p.Features.HashBits, p.Solver.Calibrate = 12, false
	cm, err := classifier.Train(t.Context(), ex, p, classifier.Options{Workers: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := cm.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := serving.Load(servingtest.Version(testModel, 2, "models/2.bin", data), data)
	if err != nil {
		t.Fatal(err)
	}
	e := h.srv.encoding(m)
	other := h.srv.metrics.predicted.WithLabelValues(otherClasses)
	if e.labels["c000"].predicted == other || e.labels["c099"].predicted == other {
		t.Error("one of the first 100 classes has no series of its own")
	}
	if e.labels["c100"].predicted != other || e.labels["c119"].predicted != other {
		t.Error("classes past the first 100 do not share the _other series")
	}
}
