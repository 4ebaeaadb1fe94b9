// Package composetest checks docker-compose.yml and the Dockerfile without a
// Docker engine: it loads the compose file with compose-spec/compose-go, the
// library Docker Compose itself uses, and holds its services, ports,
// credentials and environment to the defaults in internal/config.
//
// It runs offline: the loader reads the file alone and is given an empty
// environment, so neither the registry nor the caller's shell is consulted.
package composetest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/prodcat/prodcat/internal/config"
)

const projectName = "prodcat"

// Compose service names, which are also the host names inside the network.
const (
	svcPostgres         = "postgresql"
	svcTemporal         = "temporal"
	svcSearchAttributes = "temporal-search-attributes"
	svcTemporalUI       = "temporal-ui"
	svcMinIO            = "minio"
	svcMinIOInit        = "minio-init"
	svcWorker           = "worker"
	svcAPI              = "api"
)

// searchAttributes are the Temporal search attributes the pipeline sets; the
// no-Docker stack (scripts/stack.sh) registers the same list.
var searchAttributes = [][2]string{
	{"DatasetDigest", "Keyword"},
	{"ModelVersion", "Int"},
	{"WeightedF1", "Double"},
	{"Promoted", "Bool"},
	{"ModelName", "Keyword"},
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

func loadProject(t *testing.T) *types.Project {
	t.Helper()
	root := repoRoot(t)
	path := filepath.Join(root, "docker-compose.yml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: path}},
		// Empty on purpose: the result must not depend on the caller's shell.
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName(projectName, true)
		o.ResolvePaths = false // keep build contexts as written, relative to the repository
	})
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml: service %q is missing (have %v)", name, p.ServiceNames())
	}
	return s
}

// env returns a service's environment variable; ok is false when it is not
// set or is declared without a value (which would take it from the shell).
func env(s types.ServiceConfig, name string) (string, bool) {
	v, ok := s.Environment[name]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

func requireEnv(t *testing.T, s types.ServiceConfig, name, want string) {
	t.Helper()
	got, ok := env(s, name)
	if !ok {
		t.Errorf("service %s: environment %s is not set, want %q", s.Name, name, want)
		return
	}
	if got != want {
		t.Errorf("service %s: environment %s = %q, want %q", s.Name, name, got, want)
	}
}

func splitHostPort(t *testing.T, what, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q is not host:port: %v", what, addr, err)
	}
	return host, port
}

// requirePublished checks that a service publishes container port target on
// the host port and interface of a host-side default address.
func requirePublished(t *testing.T, s types.ServiceConfig, defaultAddr string, target uint32) {
	t.Helper()
	host, port := splitHostPort(t, "default address", defaultAddr)
	var seen []string
	for _, p := range s.Ports {
		seen = append(seen, fmt.Sprintf("%s:%s->%d/%s", p.HostIP, p.Published, p.Target, p.Protocol))
		if p.Published != port {
			continue
		}
		if p.Target != target {
			t.Errorf("service %s: host port %s maps to container port %d, want %d", s.Name, port, p.Target, target)
		}
		// An empty host IP publishes on every interface, which also serves 127.0.0.1.
		if p.HostIP != "" && p.HostIP != host {
			t.Errorf("service %s: host port %s is published on %s, but the default %s expects %s", s.Name, port, p.HostIP, defaultAddr, host)
		}
		if p.Protocol != "" && p.Protocol != "tcp" {
			t.Errorf("service %s: host port %s uses protocol %s, want tcp", s.Name, port, p.Protocol)
		}
		return
	}
	t.Errorf("service %s: host port %s (from default %s) is not published; ports are %v", s.Name, port, defaultAddr, seen)
}

func requireDependsOn(t *testing.T, s types.ServiceConfig, dep, condition string) {
	t.Helper()
	d, ok := s.DependsOn[dep]
	if !ok {
		t.Errorf("service %s: does not depend on %s (want condition %s)", s.Name, dep, condition)
		return
	}
	if d.Condition != condition {
		t.Errorf("service %s: depends on %s with condition %q, want %q", s.Name, dep, d.Condition, condition)
	}
}

func TestComposeFileLoads(t *testing.T) {
	p := loadProject(t)
	if p.Name != projectName {
		t.Errorf("project name = %q, want %q", p.Name, projectName)
	}
	for _, name := range []string{svcPostgres, svcTemporal, svcSearchAttributes, svcTemporalUI, svcMinIO, svcMinIOInit, svcWorker, svcAPI} {
		service(t, p, name)
	}
	if len(p.DisabledServices) > 0 {
		t.Errorf("services behind profiles would not start with a plain `docker compose up`: %v", p.DisabledServices.GetProfiles())
	}
}

var releaseTag = regexp.MustCompile(`^RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$`)

// TestImagesPinned: every pulled image names an explicit tag other than latest;
// the services we build instead come from the one Dockerfile.
func TestImagesPinned(t *testing.T) {
	p := loadProject(t)
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Build != nil {
			continue // checked by TestWorkerAndAPIBuiltFromDockerfile
		}
		if s.Image == "" {
			t.Errorf("service %s: neither image nor build", name)
			continue
		}
		ref, _, _ := strings.Cut(s.Image, "@") // a digest pins too, but keep a readable tag
		slash := strings.LastIndex(ref, "/")
		colon := strings.LastIndex(ref, ":")
		if colon <= slash {
			t.Errorf("service %s: image %q has no tag; pin a published version", name, s.Image)
			continue
		}
		tag := ref[colon+1:]
		if tag == "latest" || tag == "" {
			t.Errorf("service %s: image %q uses tag %q; pin a published version", name, s.Image, tag)
		}
		if strings.HasPrefix(ref, "minio/") || strings.Contains(ref, "/minio/") {
			if !releaseTag.MatchString(tag) {
				t.Errorf("service %s: image %q: MinIO images must be pinned to a RELEASE.YYYY-MM-DDTHH-MM-SSZ tag", name, s.Image)
			}
		}
	}
}

var dockerfileStage = regexp.MustCompile(`(?im)^FROM\s+\S+\s+AS\s+(\S+)\s*$`)

func TestWorkerAndAPIBuiltFromDockerfile(t *testing.T) {
	p := loadProject(t)
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	var stages []string
	for _, m := range dockerfileStage.FindAllStringSubmatch(string(dockerfile), -1) {
		stages = append(stages, strings.ToLower(m[1]))
	}
	for _, name := range []string{svcWorker, svcAPI} {
		s := service(t, p, name)
		if s.Build == nil {
			t.Errorf("service %s: has no build section; it must be built from ./Dockerfile", name)
			continue
		}
		if s.Build.Context != "." {
			t.Errorf("service %s: build context = %q, want \".\" (the repository root)", name, s.Build.Context)
		}
		if s.Build.Dockerfile != "" && s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("service %s: dockerfile = %q, want Dockerfile", name, s.Build.Dockerfile)
		}
		if s.Build.Target != name {
			t.Errorf("service %s: build target = %q, want %q", name, s.Build.Target, name)
		}
		if !slices.Contains(stages, name) {
			t.Errorf("Dockerfile has no stage %q (stages: %v)", name, stages)
		}
	}
}

func TestHostPortsMatchDefaults(t *testing.T) {
	p := loadProject(t)

	requirePublished(t, service(t, p, svcTemporal), config.DefaultTemporalAddress, 7233)

	ui, err := url.Parse(config.DefaultTemporalUIURL)
	if err != nil {
		t.Fatalf("config.DefaultTemporalUIURL %q: %v", config.DefaultTemporalUIURL, err)
	}
	requirePublished(t, service(t, p, svcTemporalUI), ui.Host, 8080) // temporalio/ui serves on 8080

	requirePublished(t, service(t, p, svcMinIO), config.DefaultS3Endpoint, 9000)

	db, err := url.Parse(config.DefaultDatabaseURL)
	if err != nil {
		t.Fatalf("config.DefaultDatabaseURL: %v", err)
	}
	requirePublished(t, service(t, p, svcPostgres), db.Host, 5432)

	api := service(t, p, svcAPI)
	listen, ok := env(api, "PRODCAT_API_ADDR")
	if !ok {
		t.Fatalf("service api: PRODCAT_API_ADDR is not set; the default %s is unreachable from outside the container", config.DefaultAPIAddr)
	}
	host, port := splitHostPort(t, "api PRODCAT_API_ADDR", listen)
	if host != "0.0.0.0" && host != "" {
		t.Errorf("service api: PRODCAT_API_ADDR = %q listens on %s only; want 0.0.0.0:<port> inside the container", listen, host)
	}
	var target uint32
	if _, err := fmt.Sscan(port, &target); err != nil {
		t.Fatalf("service api: PRODCAT_API_ADDR port %q: %v", port, err)
	}
	requirePublished(t, api, config.DefaultAPIAddr, target)
}

func TestPostgresAndTemporalAgree(t *testing.T) {
	p := loadProject(t)
	pg := service(t, p, svcPostgres)
	user, _ := env(pg, "POSTGRES_USER")
	password, _ := env(pg, "POSTGRES_PASSWORD")
	dbname, _ := env(pg, "POSTGRES_DB")
	if user == "" || password == "" || dbname == "" {
		t.Fatalf("service postgresql: POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB must all be set (got %q, %q, %q)", user, password, dbname)
	}

	// The host-side default must work against this stack too.
	def, err := url.Parse(config.DefaultDatabaseURL)
	if err != nil {
		t.Fatalf("config.DefaultDatabaseURL: %v", err)
	}
	defPassword, _ := def.User.Password()
	if def.User.Username() != user || defPassword != password || strings.TrimPrefix(def.Path, "/") != dbname {
		t.Errorf("service postgresql: user/password/database %s/%s/%s differ from config.DefaultDatabaseURL's %s/%s/%s",
			user, password, dbname, def.User.Username(), defPassword, strings.TrimPrefix(def.Path, "/"))
	}
	if pg.HealthCheck == nil || pg.HealthCheck.Disable {
		t.Errorf("service postgresql: needs a healthcheck (others wait for service_healthy)")
	}

	tmp := service(t, p, svcTemporal)
	requireEnv(t, tmp, "DB", "postgres12")
	requireEnv(t, tmp, "POSTGRES_SEEDS", svcPostgres)
	requireEnv(t, tmp, "DB_PORT", "5432")
	requireEnv(t, tmp, "POSTGRES_USER", user)
	requireEnv(t, tmp, "POSTGRES_PWD", password)
	if ns, ok := env(tmp, "DEFAULT_NAMESPACE"); ok && ns != config.DefaultTemporalNamespace {
		t.Errorf("service temporal: DEFAULT_NAMESPACE = %q, want %q (config.DefaultTemporalNamespace)", ns, config.DefaultTemporalNamespace)
	}
	requireDependsOn(t, tmp, svcPostgres, types.ServiceConditionHealthy)
	if tmp.HealthCheck == nil || tmp.HealthCheck.Disable {
		t.Errorf("service temporal: needs a healthcheck (others wait for service_healthy)")
	} else if hc := strings.Join(tmp.HealthCheck.Test, " "); !strings.Contains(hc, "--namespace "+config.DefaultTemporalNamespace) {
		t.Errorf("service temporal: healthcheck %q should wait for namespace %q to exist", hc, config.DefaultTemporalNamespace)
	}

	uiSvc := service(t, p, svcTemporalUI)
	requireEnv(t, uiSvc, "TEMPORAL_ADDRESS", inNetwork(t, svcTemporal, config.DefaultTemporalAddress))
}

// inNetwork turns a host-side default host:port into the address of the
// compose service that provides it.
func inNetwork(t *testing.T, svc, defaultAddr string) string {
	t.Helper()
	_, port := splitHostPort(t, "default address", defaultAddr)
	return net.JoinHostPort(svc, port)
}

func TestSearchAttributesRegistered(t *testing.T) {
	p := loadProject(t)
	s := service(t, p, svcSearchAttributes)
	requireDependsOn(t, s, svcTemporal, types.ServiceConditionHealthy)
	requireEnv(t, s, "TEMPORAL_ADDRESS", inNetwork(t, svcTemporal, config.DefaultTemporalAddress))
	requireEnv(t, s, "TEMPORAL_NAMESPACE", config.DefaultTemporalNamespace)
	script := strings.Join(append(slices.Clone(s.Entrypoint), s.Command...), " ")
	script = strings.Join(strings.Fields(strings.ReplaceAll(script, "\\\n", " ")), " ")
	for _, sa := range searchAttributes {
		if want := fmt.Sprintf("--name %s --type %s", sa[0], sa[1]); !strings.Contains(script, want) {
			t.Errorf("service %s: does not register search attribute %s (want %q in its command)", s.Name, sa[0], want)
		}
	}
	if s.Restart != "" && s.Restart != "no" {
		t.Errorf("service %s: restart = %q; a one-shot job must not restart", s.Name, s.Restart)
	}

	// Both stacks must register the same attributes.
	stack, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "stack.sh"))
	if err != nil {
		t.Logf("scripts/stack.sh not readable, skipping the cross-check: %v", err)
		return
	}
	m := regexp.MustCompile(`(?m)^search_attributes=\(([^)]*)\)`).FindSubmatch(stack)
	if m == nil {
		t.Errorf("scripts/stack.sh: no search_attributes=(...) line to compare with; update this test if the list moved")
		return
	}
	var want []string
	for _, sa := range searchAttributes {
		want = append(want, sa[0]+"="+sa[1])
	}
	got := strings.Fields(string(m[1]))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("search attributes differ: scripts/stack.sh registers %v, docker-compose.yml %v", got, want)
	}
}

func TestMinIOAgreesWithS3Defaults(t *testing.T) {
	p := loadProject(t)
	m := service(t, p, svcMinIO)
	requireEnv(t, m, "MINIO_ROOT_USER", config.DefaultS3AccessKey)
	requireEnv(t, m, "MINIO_ROOT_PASSWORD", config.DefaultS3SecretKey)
	if m.HealthCheck == nil || m.HealthCheck.Disable {
		t.Errorf("service minio: needs a healthcheck (others wait for service_healthy)")
	}
	if len(m.Volumes) == 0 {
		t.Errorf("service minio: no volume; artifacts would be lost with the container")
	}

	// minio-init creates the bucket through an mc alias given as MC_HOST_<alias>.
	init := service(t, p, svcMinIOInit)
	requireDependsOn(t, init, svcMinIO, types.ServiceConditionHealthy)
	var alias string
	for name, v := range init.Environment {
		a, ok := strings.CutPrefix(name, "MC_HOST_")
		if !ok || v == nil {
			continue
		}
		alias = a
		u, err := url.Parse(*v)
		if err != nil {
			t.Errorf("service minio-init: %s is not a URL: %v", name, err)
			continue
		}
		secret, _ := u.User.Password()
		if u.User.Username() != config.DefaultS3AccessKey || secret != config.DefaultS3SecretKey {
			t.Errorf("service minio-init: %s credentials %s/%s, want config defaults %s/%s", name, u.User.Username(), secret, config.DefaultS3AccessKey, config.DefaultS3SecretKey)
		}
		if want := inNetwork(t, svcMinIO, config.DefaultS3Endpoint); u.Host != want {
			t.Errorf("service minio-init: %s points at %s, want %s", name, u.Host, want)
		}
	}
	if alias == "" {
		t.Fatalf("service minio-init: no MC_HOST_<alias> variable; cannot tell which server it talks to")
	}
	cmd := strings.Join(init.Command, " ")
	if want := alias + "/" + config.DefaultS3Bucket; !strings.Contains(cmd, "mb") || !strings.Contains(cmd, want) {
		t.Errorf("service minio-init: command %q does not create bucket %s (want `mb ... %s`)", cmd, config.DefaultS3Bucket, want)
	}
}

// overridden lists the variables whose in-container value must differ from
// the host-side default, with the check each value must pass instead.
func overridden(t *testing.T, p *types.Project) map[string]func(svc, v string) error {
	pg := service(t, p, svcPostgres)
	pgUser, _ := env(pg, "POSTGRES_USER")
	pgPassword, _ := env(pg, "POSTGRES_PASSWORD")
	pgDB, _ := env(pg, "POSTGRES_DB")
	exact := func(want string) func(string, string) error {
		return func(_, v string) error {
			if v != want {
				return fmt.Errorf("want %q", want)
			}
			return nil
		}
	}
	return map[string]func(svc, v string) error{
		"TEMPORAL_ADDRESS": exact(inNetwork(t, svcTemporal, config.DefaultTemporalAddress)),
		"S3_ENDPOINT":      exact(inNetwork(t, svcMinIO, config.DefaultS3Endpoint)),
		"DATABASE_URL": func(_, v string) error {
			u, err := url.Parse(v)
			if err != nil {
				return err
			}
			password, _ := u.User.Password()
			var problems []string
			if u.Hostname() != svcPostgres {
				problems = append(problems, fmt.Sprintf("host %q, want %q", u.Hostname(), svcPostgres))
			}
			if port := u.Port(); port != "" && port != "5432" {
				problems = append(problems, fmt.Sprintf("port %s, want 5432 (the container port)", port))
			}
			if u.User.Username() != pgUser || password != pgPassword {
				problems = append(problems, fmt.Sprintf("credentials %s/%s, want the postgresql service's %s/%s", u.User.Username(), password, pgUser, pgPassword))
			}
			if db := strings.TrimPrefix(u.Path, "/"); db != pgDB {
				problems = append(problems, fmt.Sprintf("database %q, want POSTGRES_DB %q", db, pgDB))
			}
			if u.Query().Get("sslmode") != "disable" {
				problems = append(problems, "sslmode must be disable (the postgres image serves no TLS)")
			}
			if len(problems) > 0 {
				return fmt.Errorf("%s", strings.Join(problems, "; "))
			}
			return nil
		},
		"PRODCAT_API_ADDR": func(svc, v string) error {
			if svc != svcAPI {
				return fmt.Errorf("only the api listens")
			}
			return nil // TestHostPortsMatchDefaults checks the value
		},
		"PRODCAT_WORKER_METRICS_ADDR": func(svc, v string) error {
			if svc != svcWorker {
				return fmt.Errorf("only the worker serves its metrics there")
			}
			if !strings.HasSuffix(v, ":9464") {
				return fmt.Errorf("want port 9464, which the worker's healthcheck asks")
			}
			return nil
		},
		"PRODCAT_DEV_MODE": func(svc, v string) error {
			if svc != svcAPI || v != "true" {
				return fmt.Errorf("only the api may enable development credentials (with \"true\")")
			}
			return nil
		},
		"PRODCAT_LOG_FORMAT": func(_, v string) error {
			if v != "json" && v != "text" {
				return fmt.Errorf("want json or text")
			}
			return nil
		},
		"PRODCAT_API_USERS":      func(string, string) error { return nil },
		"PRODCAT_API_USERS_FILE": func(string, string) error { return nil },
	}
}

// TestServiceEnvironment: the worker and the API set only variables config
// knows (a typo would silently fall back to a default), point at the compose
// services, and otherwise keep the defaults the rest of the stack is built for.
func TestServiceEnvironment(t *testing.T) {
	p := loadProject(t)
	defaults := make(map[string]string)
	for _, v := range config.Vars() {
		defaults[v.Name] = v.Default
	}
	checks := overridden(t, p)
	for name := range checks {
		if _, ok := defaults[name]; !ok {
			t.Fatalf("test bug: %s is not in config.Vars()", name)
		}
	}
	// Inside a container these defaults point at the container itself.
	for _, name := range []string{"TEMPORAL_ADDRESS", "S3_ENDPOINT", "DATABASE_URL"} {
		for _, svc := range []string{svcWorker, svcAPI} {
			if _, ok := env(service(t, p, svc), name); !ok {
				t.Errorf("service %s: %s must be set; its default %q is unreachable from a container", svc, name, defaults[name])
			}
		}
	}

	for _, svc := range []string{svcWorker, svcAPI} {
		s := service(t, p, svc)
		for name, v := range s.Environment {
			def, known := defaults[name]
			switch {
			case !known:
				t.Errorf("service %s: environment %s is not a variable internal/config reads (typo?)", svc, name)
			case v == nil:
				t.Errorf("service %s: environment %s has no value, so it would come from the caller's shell", svc, name)
			case checks[name] != nil:
				if err := checks[name](svc, *v); err != nil {
					t.Errorf("service %s: environment %s=%q: %v", svc, name, *v, err)
				}
			case *v != def:
				t.Errorf("service %s: environment %s=%q differs from the config default %q that the rest of the stack assumes", svc, name, *v, def)
			}
		}
		for _, dep := range []string{svcPostgres, svcMinIO, svcTemporal} {
			requireDependsOn(t, s, dep, types.ServiceConditionHealthy)
		}
		for _, dep := range []string{svcSearchAttributes, svcMinIOInit} {
			requireDependsOn(t, s, dep, types.ServiceConditionCompletedSuccessfully)
		}
	}

	// The two services must see the same stack.
	w, a := service(t, p, svcWorker), service(t, p, svcAPI)
	for name := range w.Environment {
		wv, _ := env(w, name)
		if av, ok := env(a, name); ok && av != wv {
			t.Errorf("worker and api disagree on %s: %q vs %q", name, wv, av)
		}
	}

	if a.HealthCheck == nil || a.HealthCheck.Disable {
		t.Errorf("service api: needs a healthcheck")
	} else {
		_, port := splitHostPort(t, "api PRODCAT_API_ADDR", mustEnv(t, a, "PRODCAT_API_ADDR"))
		if hc := strings.Join(a.HealthCheck.Test, " "); !strings.Contains(hc, ":"+port+"/") {
			t.Errorf("service api: healthcheck %q does not probe the listen port %s", hc, port)
		}
	}
}

func mustEnv(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	v, ok := env(s, name)
	if !ok {
		t.Fatalf("service %s: %s is not set", s.Name, name)
	}
	return v
}

// TestHealthyDependenciesHaveHealthchecks: a service_healthy condition on a
// service without a healthcheck would make `docker compose up` fail.
func TestHealthyDependenciesHaveHealthchecks(t *testing.T) {
	p := loadProject(t)
	for _, name := range p.ServiceNames() {
		for dep, d := range p.Services[name].DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				continue
			}
			if hc := p.Services[dep].HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 {
				t.Errorf("service %s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
	}
}
