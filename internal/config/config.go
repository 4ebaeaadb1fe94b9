// Package config reads prodcat's configuration from the environment.
//
// Every setting has a default that matches the local stack started by
// `go tool task up`, so nothing needs to be set for local development.
// This is the only package that reads the environment.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/sirupsen/logrus"
)

// Defaults shared with the local stack, docker-compose.yml and the README.
const (
	DefaultTemporalAddress   = "127.0.0.1:7233"
	DefaultTemporalNamespace = "default"
	DefaultTemporalUIURL     = "http://127.0.0.1:8233"
	DefaultTaskQueue         = "prodcat"
	DefaultTrainingQueue     = "prodcat-training"
	DefaultS3Endpoint        = "127.0.0.1:9000"
	DefaultS3AccessKey       = "prodcat"
	DefaultS3SecretKey       = "prodcat-dev-secret"
	DefaultS3Bucket          = "prodcat"
	DefaultS3Region          = "us-east-1"
	DefaultDatabaseURL       = "postgres://prodcat:prodcat@127.0.0.1:55432/prodcat?sslmode=disable"
	DefaultAPIAddr           = "127.0.0.1:8080"
	DefaultModelName         = "prdtypecode"
)

// Config is the whole configuration of the worker, the API and the starter.
type Config struct {
	Temporal Temporal
	S3       S3
	// DatabaseURL is a lib/pq connection string for the model registry.
	DatabaseURL string
	API         API
	Log         Log
	// ModelName is the registered model the pipeline trains and the API serves.
	ModelName string
}

// Temporal locates the Temporal frontend and names the task queues.
type Temporal struct {
	Address       string
	Namespace     string
	UIURL         string
	TaskQueue     string
	TrainingQueue string
	// DataActivities bounds the activities a worker runs at once that
	// hold a whole data file in memory; light ones are not counted.
	DataActivities int
	// WorkerMetricsAddr, when set, is where a worker serves /metrics and
	// /healthz.
	WorkerMetricsAddr string
}

// S3 locates the artifact bucket on any S3-compatible store.
type S3 struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
	UseTLS    bool
	// FeaturesExpireDays is how many days the bucket keeps the feature
	// files a training writes for its own use (features/), through a
	// lifecycle rule the worker sets; 0 leaves the bucket's lifecycle
	// alone.
	FeaturesExpireDays int
}

// API configures the HTTP server.
type API struct {
	Addr string
	// Users is an inline user list: "name:role:bcrypt-hash" entries separated by commas.
	Users string
	// UsersFile names a file with one "name:role:bcrypt-hash" entry per line.
	UsersFile string
	// DevMode allows the built-in development credentials.
	DevMode bool
	// ReloadInterval is how often the API polls the registry for alias moves
	// in case a NOTIFY was missed.
	ReloadInterval time.Duration
	// MaxBodyBytes bounds a request body; MaxUploadBytes an uploaded data
	// file.
	MaxBodyBytes   int64
	MaxUploadBytes int64
	// DrainDelay is how long a stopping API keeps serving with /readyz
	// failing, so a load balancer stops routing to it before the listener
	// closes.
	DrainDelay time.Duration
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
}

// Log selects the log format ("json" or "text") and level.
type Log struct {
	Format string
	Level  string
}

// maxExpireDays bounds PRODCAT_FEATURES_EXPIRE_DAYS at about ten years.
const maxExpireDays = 3650

// Var describes one environment variable, for documentation and tests.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable Load reads, in the order of the README table.
func Vars() []Var {
	return []Var{
		{"TEMPORAL_ADDRESS", DefaultTemporalAddress, "Temporal frontend (gRPC) host:port"},
		{"TEMPORAL_NAMESPACE", DefaultTemporalNamespace, "Temporal namespace"},
		{"TEMPORAL_UI_URL", DefaultTemporalUIURL, "base URL of the Temporal UI, used in links"},
		{"PRODCAT_TASK_QUEUE", DefaultTaskQueue, "task queue for workflows and light activities"},
		{"PRODCAT_TRAINING_QUEUE", DefaultTrainingQueue, "task queue for heavy activities (features, train)"},
		{"PRODCAT_WORKER_METRICS_ADDR", "", "when set (say :9464), where a worker serves Prometheus metrics (/metrics: activities by outcome, their durations and those running, the Temporal SDK's own series, Go runtime and process), /livez and /healthz; PRODCAT_METRICS_TOKEN guards /metrics as the API's"},
		{"PRODCAT_DATA_ACTIVITIES", "4", "activities that hold a data file in memory (ingest, evaluate, register, batch predictions, comparisons) a worker runs at once; more wait their turn, while light ones (recording a run's end) do not"},
		{"S3_ENDPOINT", DefaultS3Endpoint, "S3-compatible endpoint host:port (MinIO, AWS S3, Ceph, ...)"},
		{"S3_ACCESS_KEY", DefaultS3AccessKey, "S3 access key"},
		{"S3_SECRET_KEY", DefaultS3SecretKey, "S3 secret key"},
		{"S3_BUCKET", DefaultS3Bucket, "bucket holding every artifact"},
		{"S3_REGION", DefaultS3Region, "S3 region"},
		{"S3_USE_TLS", "false", "use https to reach S3"},
		{"PRODCAT_FEATURES_EXPIRE_DAYS", "7", "days the bucket keeps the feature files a training writes for its own use (features/), through a lifecycle rule the worker sets at start; 0 leaves the bucket's lifecycle alone"},
		{"DATABASE_URL", DefaultDatabaseURL, "PostgreSQL connection string for the model registry"},
		{"PRODCAT_API_ADDR", DefaultAPIAddr, "HTTP listen address of the API"},
		{"PRODCAT_API_USERS", "", "API users, comma-separated name:role:bcrypt-hash (roles: predict, admin)"},
		{"PRODCAT_API_USERS_FILE", "", "file with one name:role:bcrypt-hash per line"},
		{"PRODCAT_DEV_MODE", "false", "allow the development credentials admin/admin and predict/predict"},
		{"PRODCAT_RELOAD_INTERVAL", "10s", "registry polling interval, the fallback to LISTEN/NOTIFY"},
		{"PRODCAT_MAX_BODY_BYTES", "1048576", "largest accepted request body"},
		{"PRODCAT_MAX_UPLOAD_BYTES", "268435456", "largest data file accepted by POST /v1/uploads (spooled to a temporary file in $TMPDIR on its way to the bucket; files a killed API left there are removed when it starts again)"},
		{"PRODCAT_METRICS_TOKEN", "", "when set, /metrics needs `Authorization: Bearer <token>` (for a Prometheus scrape_config's authorization)"},
		{"PRODCAT_DRAIN_DELAY", "0s", "on shutdown, how long the API keeps serving with /readyz failing before it closes its listener (set it above the load balancer's probe interval)"},
		{"PRODCAT_MODEL_NAME", DefaultModelName, "registered model trained and served"},
		{"PRODCAT_LOG_FORMAT", "", "json or text (default: json for services, text for the command line)"},
		{"PRODCAT_LOG_LEVEL", "info", "debug, info, warn or error"},
	}
}

// Load reads the configuration from the environment.
func Load() (Config, error) {
	return load(os.LookupEnv)
}

func load(lookup func(string) (string, bool)) (Config, error) {
	defaults := make(map[string]string)
	for _, v := range Vars() {
		defaults[v.Name] = v.Default
	}
	get := func(name string) string {
		if v, ok := lookup(name); ok && v != "" {
			return v
		}
		d, ok := defaults[name]
		if !ok {
			panic("config: undeclared variable " + name) // a programming error, caught by tests
		}
		return d
	}
	var errs []string
	boolean := func(name string) bool {
		b, err := strconv.ParseBool(get(name))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: want true or false, got %q", name, get(name)))
		}
		return b
	}
	c := Config{
		Temporal: Temporal{
			Address:       get("TEMPORAL_ADDRESS"),
			Namespace:     get("TEMPORAL_NAMESPACE"),
			UIURL:         strings.TrimRight(get("TEMPORAL_UI_URL"), "/"),
			TaskQueue:     get("PRODCAT_TASK_QUEUE"),
			TrainingQueue: get("PRODCAT_TRAINING_QUEUE"),
			// Checked below.
			WorkerMetricsAddr: get("PRODCAT_WORKER_METRICS_ADDR"),
		},
		S3: S3{
			Endpoint:  get("S3_ENDPOINT"),
			AccessKey: get("S3_ACCESS_KEY"),
			SecretKey: get("S3_SECRET_KEY"),
			Bucket:    get("S3_BUCKET"),
			Region:    get("S3_REGION"),
			UseTLS:    boolean("S3_USE_TLS"),
		},
		DatabaseURL: get("DATABASE_URL"),
		API: API{
			Addr:         get("PRODCAT_API_ADDR"),
			Users:        get("PRODCAT_API_USERS"),
			UsersFile:    get("PRODCAT_API_USERS_FILE"),
			DevMode:      boolean("PRODCAT_DEV_MODE"),
			MetricsToken: get("PRODCAT_METRICS_TOKEN"),
		},
		Log:       Log{Format: get("PRODCAT_LOG_FORMAT"), Level: get("PRODCAT_LOG_LEVEL")},
		ModelName: get("PRODCAT_MODEL_NAME"),
	}
	d, err := time.ParseDuration(get("PRODCAT_RELOAD_INTERVAL"))
	if err != nil || d <= 0 {
		errs = append(errs, fmt.Sprintf("PRODCAT_RELOAD_INTERVAL: want a positive duration such as 10s, got %q", get("PRODCAT_RELOAD_INTERVAL")))
	}
	c.API.ReloadInterval = d
	n, err := strconv.ParseInt(get("PRODCAT_MAX_BODY_BYTES"), 10, 64)
	if err != nil || n <= 0 {
		errs = append(errs, fmt.Sprintf("PRODCAT_MAX_BODY_BYTES: want a positive byte count, got %q", get("PRODCAT_MAX_BODY_BYTES")))
	}
	c.API.MaxBodyBytes = n
	u, err := strconv.ParseInt(get("PRODCAT_MAX_UPLOAD_BYTES"), 10, 64)
	if err != nil || u <= 0 {
		errs = append(errs, fmt.Sprintf("PRODCAT_MAX_UPLOAD_BYTES: want a positive byte count, got %q", get("PRODCAT_MAX_UPLOAD_BYTES")))
	}
	c.API.MaxUploadBytes = u
	dd, err := time.ParseDuration(get("PRODCAT_DRAIN_DELAY"))
	if err != nil || dd < 0 {
		errs = append(errs, fmt.Sprintf("PRODCAT_DRAIN_DELAY: want a duration of 0s or more such as 5s, got %q", get("PRODCAT_DRAIN_DELAY")))
	}
	c.API.DrainDelay = dd
	da, err := strconv.Atoi(get("PRODCAT_DATA_ACTIVITIES"))
	if err != nil || da <= 0 {
		errs = append(errs, fmt.Sprintf("PRODCAT_DATA_ACTIVITIES: want a positive count, got %q", get("PRODCAT_DATA_ACTIVITIES")))
	}
	c.Temporal.DataActivities = da
	fe, err := strconv.Atoi(get("PRODCAT_FEATURES_EXPIRE_DAYS"))
	if err != nil || fe < 0 || fe > maxExpireDays {
		errs = append(errs, fmt.Sprintf("PRODCAT_FEATURES_EXPIRE_DAYS: want a day count from 0 to %d, got %q", maxExpireDays, get("PRODCAT_FEATURES_EXPIRE_DAYS")))
	}
	c.S3.FeaturesExpireDays = fe
	switch c.Log.Format {
	case "", "json", "text":
	default:
		errs = append(errs, fmt.Sprintf("PRODCAT_LOG_FORMAT: want json or text, got %q", c.Log.Format))
	}
	if _, err := logrus.ParseLevel(c.Log.Level); err != nil {
		errs = append(errs, fmt.Sprintf("PRODCAT_LOG_LEVEL: want debug, info, warn or error, got %q", c.Log.Level))
	}
	if err := CheckDatabaseURL(c.DatabaseURL); err != nil {
		errs = append(errs, "DATABASE_URL: "+err.Error())
	}
	if err := checkListenAddr(c.API.Addr); err != nil {
		errs = append(errs, fmt.Sprintf("PRODCAT_API_ADDR %q: %v", c.API.Addr, err))
	}
	if a := c.Temporal.WorkerMetricsAddr; a != "" {
		if err := checkListenAddr(a); err != nil {
			errs = append(errs, fmt.Sprintf("PRODCAT_WORKER_METRICS_ADDR %q: %v", a, err))
		}
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// CheckDatabaseURL reports what lib/pq finds wrong with dsn, as the
// registry will read it, without connecting and without repeating dsn,
// which may hold a password. lib/pq reads postgres:// and postgresql://
// URLs and takes anything else for key=value settings, so a URL of
// another scheme is named as such.
func CheckDatabaseURL(dsn string) error {
	_, err := pq.NewConfig(dsn)
	if err == nil {
		return nil
	}
	if scheme, _, ok := strings.Cut(dsn, "://"); ok && !strings.Contains(scheme, "=") &&
		scheme != "postgres" && scheme != "postgresql" {
		return fmt.Errorf("scheme %q: want postgres://", scheme)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // net/url puts the URL in its errors
	}
	if dsn == "" {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), dsn, "<the URL>"))
}

// checkListenAddr refuses an address a server cannot listen on: host:port
// with a port number or service name (an empty port picks a free one).
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, such as 127.0.0.1:8080 or :8080")
	}
	if port == "" {
		return nil
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("port %q: want 0 to 65535", port)
	}
	return nil
}
