package deploy

import (
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// placeholder marks every value in an example file that the operator must
// replace. The config loader rejects it as a signing secret.
const placeholder = "CHANGE-ME"

// isRuntimeVar reports whether name is read by the Go runtime or the C
// library rather than by the config, so a deployment may set it for
// authgate although no config names it.
func isRuntimeVar(name string) bool {
	switch name {
	case "GOGC", "GOMEMLIMIT", "TZ":
		return true
	}
	return false
}

func TestYAMLParses(t *testing.T) {
	// A walk that found nothing would pass: these must be among the files.
	want := []string{
		"config.yaml", "docker-compose.yml", "docker/config.yaml", "systemd/config.yaml",
		"kubernetes/configmap.yaml", "kubernetes/deployment.yaml", "kubernetes/kustomization.yaml",
		"kubernetes/networkpolicy.yaml", "kubernetes/secret.example.yaml", "kubernetes/service.yaml",
	}
	var found []string
	err := filepath.WalkDir(".", func(name string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(name); e.IsDir() || ext != ".yaml" && ext != ".yml" {
			return nil
		}
		found = append(found, filepath.ToSlash(name))
		docs, err := yamlDocs(readFile(t, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if len(docs) == 0 {
			t.Errorf("%s: no YAML document", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !slices.Contains(found, w) {
			t.Errorf("%s: not found under deploy/", w)
		}
	}
	// The config inside the ConfigMap is YAML too, parsed by nobody above.
	for _, o := range kubernetesObjects(t) {
		for key, text := range o.Data {
			if ext := path.Ext(key); o.Kind == "ConfigMap" && (ext == ".yaml" || ext == ".yml") {
				if _, err := yamlDocs([]byte(text)); err != nil {
					t.Errorf("kubernetes ConfigMap %s key %s: %v", o.Metadata.Name, key, err)
				}
			}
		}
	}
}

// envProblems compares the variables d gives authgate with those its
// config reads: every variable given must be read (or be a runtime
// variable), and every one read without a default must be given.
func envProblems(d deployment) ([]string, error) {
	refs, err := yamlRefs(d.config, configRefs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.configFile, err)
	}
	read := names(refs, false)
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(d.given)) {
		if !slices.Contains(read, name) && !isRuntimeVar(name) {
			problems = append(problems, fmt.Sprintf("%s sets %s, which %s never reads: remove it, or read it there as ${%s}", d.given[name], name, d.configFile, name))
		}
	}
	for _, name := range names(refs, true) {
		if _, ok := d.given[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s reads ${%s} without a default, and the %s deployment does not set it", d.configFile, name, d.name))
		}
	}
	return problems, nil
}

func TestEnvProblems(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		given   []string
		want    []string
		wantErr bool
	}{
		{name: "ok-all-given", config: "a: ${A}\nb: [x, \"${B}\"]", given: []string{"A", "B"}},
		{name: "ok-default-needs-nothing", config: "a: ${A:-x}"},
		{name: "ok-default-may-be-given", config: "a: ${A:-x}", given: []string{"A"}},
		{name: "ok-runtime-vars", config: "a: 1", given: []string{"GOGC", "GOMEMLIMIT", "TZ"}},
		{
			name: "fail-given-not-read", config: "a: ${A}\n# ${B} in a comment is not read", given: []string{"A", "B"},
			want: []string{"test env sets B, which cfg never reads: remove it, or read it there as ${B}"},
		},
		{
			name: "fail-read-not-given", config: "a: ${A}\nb: ${B}", given: []string{"B"},
			want: []string{"cfg reads ${A} without a default, and the test deployment does not set it"},
		},
		{
			name: "fail-key-is-not-read", config: "${A}: x", given: []string{"A"},
			want: []string{"test env sets A, which cfg never reads: remove it, or read it there as ${A}"},
		},
		{name: "fail-bad-reference", config: "a: ${A", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deployment{name: "test", configFile: "cfg", config: []byte(tt.config), given: map[string]string{}}
			for _, g := range tt.given {
				d.given[g] = "test env"
			}
			got, err := envProblems(d)
			if (err != nil) != tt.wantErr {
				t.Fatalf("envProblems(%q) error = %v; wantErr %v", tt.config, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("envProblems(%q) = %q; want %q", tt.config, got, tt.want)
			}
		})
	}
}

// TestDeploymentEnv checks every deployment both ways: (a) each variable
// it gives authgate is one its config reads, except the runtime's own;
// (b) each variable its config reads without a default, it gives.
func TestDeploymentEnv(t *testing.T) {
	for _, d := range deployments(t) {
		t.Run(d.name, func(t *testing.T) {
			problems, err := envProblems(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}

// exampleProblems compares the variables a compose file interpolates with
// the names an .env example sets: each one compose needs must be in the
// example, and the example must set nothing compose does not read.
func exampleProblems(file string, refs []ref, example string, set []string) []string {
	var problems []string
	for _, name := range names(refs, true) {
		if !slices.Contains(set, name) {
			problems = append(problems, fmt.Sprintf("%s needs ${%s}: add it to %s", file, name, example))
		}
	}
	read := names(refs, false)
	for _, name := range set {
		if !slices.Contains(read, name) {
			problems = append(problems, fmt.Sprintf("%s sets %s, which %s never reads", example, name, file))
		}
	}
	return problems
}

func TestExampleProblems(t *testing.T) {
	tests := []struct {
		name string
		refs []ref
		set  []string
		want []string
	}{
		{name: "ok-match", refs: []ref{{"A", true}, {"B", false}}, set: []string{"A", "B"}},
		{name: "ok-optional-may-be-left-out", refs: []ref{{"A", true}, {"B", false}}, set: []string{"A"}},
		{name: "fail-missing", refs: []ref{{"A", true}}, want: []string{"c.yml needs ${A}: add it to .env.example"}},
		{name: "fail-unused", refs: []ref{{"A", true}}, set: []string{"A", "Z"}, want: []string{".env.example sets Z, which c.yml never reads"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exampleProblems("c.yml", tt.refs, ".env.example", tt.set)
			if !slices.Equal(got, tt.want) {
				t.Errorf("exampleProblems(%v, %q) = %q; want %q", tt.refs, tt.set, got, tt.want)
			}
		})
	}
}

// TestComposeEnvExample checks that .env.example names exactly the
// variables docker-compose.yml interpolates, and that the two secrets are
// required there (${NAME:?…}): compose must refuse to start without them
// rather than run with an empty password or a generated, unshared key.
func TestComposeEnvExample(t *testing.T) {
	refs, err := yamlRefs(readFile(t, "docker-compose.yml"), composeRefs)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	var set []string
	for _, v := range readEnvFile(t, ".env.example") {
		set = append(set, v.Name)
	}
	for _, p := range exampleProblems("docker-compose.yml", refs, ".env.example", set) {
		t.Error(p)
	}
	for _, name := range []string{"AUTHGATE_SECRET_KEY", "POSTGRES_PASSWORD"} {
		if !slices.Contains(names(refs, true), name) || slices.Contains(refs, ref{name, false}) {
			t.Errorf("docker-compose.yml: ${%s} must be required everywhere (${%s:?message}), never defaulted", name, name)
		}
	}
}

// TestKubernetesSecretRefs checks the authgate container against the
// Secret's example: every key it takes from a Secret exists there, and
// every key there is taken by something.
func TestKubernetesSecretRefs(t *testing.T) {
	objs := kubernetesObjects(t)
	pod, c := authgateContainer(t, objs)
	used := map[string]bool{} // "Secret/name/key"
	for _, e := range c.Env {
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			used["Secret/"+r.Name+"/"+r.Key] = true
		}
	}
	for _, ef := range c.EnvFrom {
		if r := ef.SecretRef; r != nil {
			for key := range objs["Secret/"+r.Name].values(t) {
				used["Secret/"+r.Name+"/"+key] = true
			}
		}
	}
	for _, m := range c.VolumeMounts {
		for _, f := range mountedFiles(t, objs, pod, c, path.Clean(m.MountPath)) {
			if f.Kind == "Secret" {
				used["Secret/"+f.Name+"/"+f.Key] = true
			}
		}
	}
	if len(used) == 0 {
		t.Fatal("the authgate container takes nothing from a Secret; its database URL belongs in one")
	}
	for k := range used {
		kind, rest, _ := strings.Cut(k, "/")
		name, key, _ := strings.Cut(rest, "/")
		o, ok := objs[kind+"/"+name]
		if !ok {
			t.Errorf("the authgate container uses Secret %s, which kubernetes/ does not define (not even as an example)", name)
			continue
		}
		if _, ok := o.values(t)[key]; !ok {
			t.Errorf("the authgate container uses key %s of Secret %s, which its example does not have", key, name)
		}
	}
	for id, o := range objs {
		if o.Kind != "Secret" {
			continue
		}
		for key := range o.values(t) {
			if !used[id+"/"+key] {
				t.Errorf("%s has key %s, which the authgate container never uses", id, key)
			}
		}
	}
}

// TestOpsListener checks where each config binds the ops listener
// (/healthz, /readyz, /metrics). In a container it must listen beyond
// loopback, or the orchestrator's probes never reach it (the default,
// 127.0.0.1:9090, would do exactly that); on a host of its own it stays on
// loopback.
func TestOpsListener(t *testing.T) {
	for _, d := range deployments(t) {
		t.Run(d.name, func(t *testing.T) {
			var c struct {
				Listen struct {
					Ops *string `yaml:"ops"`
				} `yaml:"listen"`
			}
			if err := yaml.Unmarshal(d.config, &c); err != nil {
				t.Fatalf("%s: %v", d.configFile, err)
			}
			if c.Listen.Ops == nil {
				t.Fatalf("%s: listen.ops is not set: say where the probes and /metrics are served", d.configFile)
			}
			host, _, err := net.SplitHostPort(*c.Listen.Ops)
			if err != nil {
				t.Fatalf("%s: listen.ops %q: %v", d.configFile, *c.Listen.Ops, err)
			}
			ip, err := netip.ParseAddr(host)
			loopback := host == "localhost" || err == nil && ip.IsLoopback()
			if d.container && loopback {
				t.Errorf("%s: listen.ops %q is loopback-only: probes from outside the container cannot reach it", d.configFile, *c.Listen.Ops)
			}
			if !d.container && !loopback {
				t.Errorf("%s: listen.ops %q: on a host, keep /metrics on loopback", d.configFile, *c.Listen.Ops)
			}
		})
	}
}

// namedFile is a file a config names, by its key path.
type namedFile struct{ Key, Path string }

// configFiles returns the files a config names that must exist when it is
// loaded: TLS files, the ACME CA file, token keys. Directories (the ACME
// cache) and JWKS URLs are not files.
func configFiles(doc []byte) ([]namedFile, error) {
	var c struct {
		TLS struct {
			CertFile string `yaml:"cert_file"`
			KeyFile  string `yaml:"key_file"`
			ACME     struct {
				CAFile string `yaml:"ca_file"`
			} `yaml:"acme"`
		} `yaml:"tls"`
		Tokens struct {
			PrivateKeyFile string   `yaml:"private_key_file"`
			VerifyKeys     []string `yaml:"verify_keys"`
		} `yaml:"tokens"`
	}
	if err := yaml.Unmarshal(doc, &c); err != nil {
		return nil, err
	}
	var files []namedFile
	add := func(key, p string) {
		if p != "" {
			files = append(files, namedFile{key, p})
		}
	}
	add("tls.cert_file", c.TLS.CertFile)
	add("tls.key_file", c.TLS.KeyFile)
	add("tls.acme.ca_file", c.TLS.ACME.CAFile)
	add("tokens.private_key_file", c.Tokens.PrivateKeyFile)
	for i, k := range c.Tokens.VerifyKeys {
		if !strings.Contains(k, "://") {
			add(fmt.Sprintf("tokens.verify_keys[%d]", i), k)
		}
	}
	return files, nil
}

// TestConfigFilesProvided checks that a deployment which places files
// beside its config (Kubernetes, through the projected volume) places
// every file its config names there.
func TestConfigFilesProvided(t *testing.T) {
	checked := 0
	for _, d := range deployments(t) {
		if d.files == nil {
			continue
		}
		checked++
		files, err := configFiles(d.config)
		if err != nil {
			t.Fatalf("%s: %v", d.configFile, err)
		}
		for _, f := range files {
			if _, ok := d.files[f.Path]; !ok || path.IsAbs(f.Path) {
				t.Errorf("%s: %s: %s is not among the files the %s deployment mounts beside it (%v)", d.configFile, f.Key, f.Path, d.name, slices.Sorted(maps.Keys(d.files)))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no deployment places files beside its config: the Kubernetes one should")
	}
}
