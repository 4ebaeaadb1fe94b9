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
	_, err := load(env(map[string]string{"S3_USE_TLS": "maybe", "PRODCAT_RELOAD_INTERVAL": "-1s", "PRODCAT_LOG_FORMAT": "xml", "PRODCAT_DATA_ACTIVITIES": "0", "PRODCAT_FEATURES_EXPIRE_DAYS": "-1",
		"PRODCAT_LOG_LEVEL": "loud", "DATABASE_URL": "mysql://u:SECRETPW@db/x", "PRODCAT_API_ADDR": "127.0.0.1:99999"}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"S3_USE_TLS", "PRODCAT_RELOAD_INTERVAL", "PRODCAT_LOG_FORMAT", "PRODCAT_DATA_ACTIVITIES", "PRODCAT_FEATURES_EXPIRE_DAYS",
		"PRODCAT_LOG_LEVEL: want debug, info, warn or error", `DATABASE_URL: scheme "mysql"`, `PRODCAT_API_ADDR "127.0.0.1:99999": port "99999"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "SECRETPW") {
		t.Errorf("error %q shows the database password", err)
	}
}

// Database URLs and listen addresses are checked as lib/pq and the API
// would, before either is used.
func TestDatabaseURLAndListenAddr(t *testing.T) {
	for dsn, ok := range map[string]bool{
		"postgres://prodcat:prodcat@127.0.0.1:5432/prodcat?sslmode=disable": true,
		"postgresql://u@db/x":                   true,
		"host=/tmp user=prodcat dbname=prodcat": true,
		"postgres://u:p@db/x?sslmode=bogus":     false,
		"mysql://u:p@db/x":                      false,
		"just-a-name":                           false,
		"postgres://u:p%zz@db/x":                false,
		"host=db user=u password=a://b":         true,
		"postgres://u@db/x?sslmode=pqgo-custom": false, // no TLS config of that name is registered: Open refuses it too
	} {
		if err := CheckDatabaseURL(dsn); (err == nil) != ok {
			t.Errorf("CheckDatabaseURL(%q) = %v, want ok %v", dsn, err, ok)
		}
	}
	// lib/pq repeats what it cannot read; the password stays out.
	if err := CheckDatabaseURL("prodcat:SECRETPW@db:5432/prodcat"); err == nil || strings.Contains(err.Error(), "SECRETPW") {
		t.Errorf("a URL without a scheme: %v", err)
	}
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, ":8080": true, "[::1]:0": true, "localhost:65535": true,
		"127.0.0.1:http": true, "127.0.0.1:": true,
		"127.0.0.1:99999": false, "127.0.0.1": false, "127.0.0.1:nosuchservice": false,
	} {
		if err := checkListenAddr(addr); (err == nil) != ok {
			t.Errorf("checkListenAddr(%q) = %v, want ok %v", addr, err, ok)
		}
	}
}
