package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsMatchLocalStack(t *testing.T) {
	c, err := load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Temporal.Address != "127.0.0.1:7233" || c.S3.Endpoint != "127.0.0.1:9000" || c.S3.Bucket != "prodcat" {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if c.API.ReloadInterval != 10*time.Second || c.API.MaxBodyBytes != 1<<20 {
		t.Errorf("API defaults: %+v", c.API)
	}
	if c.Temporal.DataActivities != 4 || c.S3.FeaturesExpireDays != 7 {
		t.Errorf("data activities %d, features expire after %d days; want 4 and 7", c.Temporal.DataActivities, c.S3.FeaturesExpireDays)
	}
	if c.API.DevMode {
		t.Error("dev mode must be off unless asked for")
	}
}

func TestOverrides(t *testing.T) {
	c, err := load(env(map[string]string{"S3_USE_TLS": "true", "TEMPORAL_UI_URL": "http://ui:8080/", "DATABASE_URL": "postgres://x", "PRODCAT_FEATURES_EXPIRE_DAYS": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.S3.UseTLS || c.Temporal.UIURL != "http://ui:8080" || c.DatabaseURL != "postgres://x" || c.S3.FeaturesExpireDays != 0 {
		t.Errorf("overrides not applied: %+v", c)
	}
}

func TestInvalidValuesAreReportedTogether(t *testing.T) {
	_, err := load(env(map[string]string{"S3_USE_TLS": "maybe", "PRODCAT_RELOAD_INTERVAL": "-1s", "PRODCAT_LOG_FORMAT": "xml", "PRODCAT_DATA_ACTIVITIES": "0", "PRODCAT_FEATURES_EXPIRE_DAYS": "-1"}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"S3_USE_TLS", "PRODCAT_RELOAD_INTERVAL", "PRODCAT_LOG_FORMAT", "PRODCAT_DATA_ACTIVITIES", "PRODCAT_FEATURES_EXPIRE_DAYS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
