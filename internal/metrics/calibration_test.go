package metrics

import (
	"math"
	"testing"
)

func TestEvaluateCalibrationWorkedExample(t *testing.T) {
	// Four examples. Bins: 0.95 and 0.9 fall in bin 9 (mean confidence
	// 0.925, one of two right), 0.6 in bin 6 (right), 0.3 in bin 3 (wrong).
	// ECE = (|1.85 − 1| + |0.6 − 1| + |0.3 − 0|) / 4 = (0.85 + 0.4 + 0.3) / 4.
	// Log-loss = −(ln 0.95 + ln 0.05 + ln 0.6 + ln 0.2) / 4.
	pTrue := []float64{0.95, 0.05, 0.6, 0.2}
	pPred := []float64{0.95, 0.9, 0.6, 0.3}
	correct := []bool{true, false, true, false}
	c, err := EvaluateCalibration(pTrue, pPred, correct)
	if err != nil {
		t.Fatal(err)
	}
	wantECE := (0.85 + 0.4 + 0.3) / 4
	wantLL := -(math.Log(0.95) + math.Log(0.05) + math.Log(0.6) + math.Log(0.2)) / 4
	if !near(c.ECE, wantECE) || !near(c.LogLoss, wantLL) {
		t.Errorf("got %+v, want ECE %v, log-loss %v", c, wantECE, wantLL)
	}
}

func TestEvaluateCalibrationEdges(t *testing.T) {
	// Certain and right: both figures 0. Probability 1 lands in the last bin.
	c, err := EvaluateCalibration([]float64{1, 1}, []float64{1, 1}, []bool{true, true})
	if err != nil || c.ECE != 0 || c.LogLoss != 0 {
		t.Errorf("perfect: %+v, %v", c, err)
	}
	// An unknown true label (probability 0) is clipped, not infinite.
	c, err = EvaluateCalibration([]float64{0}, []float64{0.5}, []bool{false})
	if err != nil || !near(c.LogLoss, -math.Log(1e-15)) {
		t.Errorf("unknown label: %+v, %v", c, err)
	}
	if c, err := EvaluateCalibration(nil, nil, nil); err != nil || c != (Calibration{}) {
		t.Errorf("empty: %+v, %v", c, err)
	}
	if _, err := EvaluateCalibration([]float64{0.5}, nil, []bool{true}); err == nil {
		t.Error("length mismatch: no error")
	}
	if _, err := EvaluateCalibration([]float64{math.NaN()}, []float64{0.5}, []bool{true}); err == nil {
		t.Error("NaN probability: no error")
	}
	if _, err := EvaluateCalibration([]float64{0.5}, []float64{1.5}, []bool{true}); err == nil {
		t.Error("probability above 1: no error")
	}
}
