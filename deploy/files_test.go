package deploy

import (
	"bufio"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// configPath is where every deployment puts authgate's config and what it
// passes as --config.
const configPath = "/etc/authgate/config.yaml"

// deployment is one way deploy/ runs authgate: the config its authgate
// process reads and the environment variables that process is given.
type deployment struct {
	name       string
	configFile string // where the config comes from, for messages
	config     []byte
	// given maps each variable the authgate process gets to where it is
	// set, for messages.
	given map[string]string
	// container is true when authgate runs in a container, where the ops
	// listener must not be loopback-only: probes come from outside it.
	container bool
	// files are the files the deployment itself places beside the config:
	// name relative to the config's directory → where it comes from. Nil
	// when the operator installs them by hand.
	files map[string]string
}

// deployments reads every deployment under deploy/.
func deployments(t *testing.T) []deployment {
	t.Helper()
	return []deployment{
		imageDeployment(t),
		composeDeployment(t),
		kubernetesDeployment(t),
		systemdDeployment(t),
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// yamlDocs decodes every document of a (multi-document) YAML file.
func yamlDocs(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// envVar is one KEY=VALUE line of an environment file.
type envVar struct{ Name, Value string }

// readEnvFile reads an environment file as docker compose and systemd's
// EnvironmentFile= both read the simple ones committed here: KEY=VALUE
// lines, blank lines and # comments, values optionally quoted.
func readEnvFile(t *testing.T, name string) []envVar {
	t.Helper()
	var vars []envVar
	sc := bufio.NewScanner(strings.NewReader(string(readFile(t, name))))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, val, ok := strings.Cut(strings.TrimPrefix(text, "export "), "=")
		if !ok || !validName(key) {
			t.Fatalf("%s:%d: want KEY=VALUE, got %q", name, line, text)
		}
		if unq, err := strconv.Unquote(val); err == nil {
			val = unq
		} else if len(val) >= 2 && val[0] == '\'' && val[len(val)-1] == '\'' {
			val = val[1 : len(val)-1]
		}
		vars = append(vars, envVar{key, val})
	}
	return vars
}

// dockerInstruction is one Dockerfile instruction, continuation lines joined.
type dockerInstruction struct{ Cmd, Args string }

func dockerInstructions(data []byte) []dockerInstruction {
	var out []dockerInstruction
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" && cur.Len() == 0 {
			continue
		}
		if more, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// imageDeployment is the container image run as it is: its default config
// and the ENV of its final stage.
func imageDeployment(t *testing.T) deployment {
	t.Helper()
	const src = "docker/config.yaml"
	d := deployment{name: "image", container: true, configFile: "deploy/" + src, config: readFile(t, src), given: map[string]string{}}
	ins := dockerInstructions(readFile(t, "../Dockerfile"))
	installs := slices.ContainsFunc(ins, func(in dockerInstruction) bool {
		return strings.Contains(in.Args, "deploy/"+src) && strings.Contains(in.Args, configPath)
	})
	if !installs {
		t.Fatalf("Dockerfile: no instruction puts deploy/%s at %s", src, configPath)
	}
	final := 0
	for i, in := range ins {
		if in.Cmd == "FROM" {
			final = i
		}
	}
	var cmd []string
	for _, in := range ins[final:] {
		switch in.Cmd {
		case "ENV":
			fields := strings.Fields(in.Args)
			if len(fields) > 0 && !strings.Contains(fields[0], "=") {
				fields = fields[:1] // legacy "ENV NAME value with spaces"
			}
			for _, f := range fields {
				name, _, _ := strings.Cut(f, "=")
				d.given[name] = "Dockerfile ENV"
			}
		case "CMD":
			if err := yaml.Unmarshal([]byte(in.Args), &cmd); err != nil {
				t.Fatalf("Dockerfile: CMD %s: want the JSON form: %v", in.Args, err)
			}
		}
	}
	if !slices.Equal(cmd, []string{"serve", "--config", configPath}) {
		t.Fatalf("Dockerfile: CMD %q; want [serve --config %s]", cmd, configPath)
	}
	return d
}

type composeFile struct {
	Services map[string]struct {
		Command     []string    `yaml:"command"`
		Environment yaml.Node   `yaml:"environment"`
		EnvFile     yaml.Node   `yaml:"env_file"`
		Volumes     []yaml.Node `yaml:"volumes"`
	} `yaml:"services"`
}

// composeDeployment is the authgate service of docker-compose.yml: the
// config mounted at configPath and its environment and env_file.
func composeDeployment(t *testing.T) deployment {
	t.Helper()
	const file = "docker-compose.yml"
	var cf composeFile
	if err := yaml.Unmarshal(readFile(t, file), &cf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	svc, ok := cf.Services["authgate"]
	if !ok {
		t.Fatalf("%s: no service named authgate", file)
	}
	if svc.Command != nil && !slices.Equal(svc.Command, []string{"serve", "--config", configPath}) {
		t.Fatalf("%s: authgate command %q; want [serve --config %s]", file, svc.Command, configPath)
	}
	d := deployment{name: "compose", container: true, given: map[string]string{}}
	for _, v := range svc.Volumes {
		var src, dst string
		switch v.Kind {
		case yaml.ScalarNode: // SOURCE:TARGET[:MODE]
			parts := strings.Split(v.Value, ":")
			if len(parts) >= 2 {
				src, dst = parts[0], parts[1]
			}
		case yaml.MappingNode:
			var long struct{ Source, Target string }
			if err := v.Decode(&long); err != nil {
				t.Fatalf("%s:%d: %v", file, v.Line, err)
			}
			src, dst = long.Source, long.Target
		}
		if dst == configPath {
			d.configFile = path.Join("deploy", src)
			d.config = readFile(t, src)
		}
	}
	if d.config == nil {
		t.Fatalf("%s: the authgate service mounts no file at %s", file, configPath)
	}
	switch env := svc.Environment; env.Kind {
	case yaml.MappingNode:
		for i := 0; i < len(env.Content); i += 2 {
			d.given[env.Content[i].Value] = file + " environment"
		}
	case yaml.SequenceNode:
		for _, item := range env.Content {
			name, _, _ := strings.Cut(item.Value, "=")
			d.given[name] = file + " environment"
		}
	}
	var envFiles []string
	switch ef := svc.EnvFile; ef.Kind {
	case yaml.ScalarNode:
		envFiles = append(envFiles, ef.Value)
	case yaml.SequenceNode:
		for _, item := range ef.Content {
			envFiles = append(envFiles, item.Value)
		}
	}
	for _, name := range envFiles {
		// The real file is not committed; its example stands for it.
		if _, err := os.Stat(name); err != nil {
			name += ".example"
		}
		for _, v := range readEnvFile(t, name) {
			d.given[v.Name] = file + " env_file " + name
		}
	}
	return d
}

// k8sObject is the part of a Kubernetes object the tests read.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`       // ConfigMap: text; Secret: base64
	StringData map[string]string `yaml:"stringData"` // Secret
	Spec       struct {
		Template struct {
			Spec k8sPodSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// values returns the object's data as text: a Secret's data decoded,
// stringData merged over it as the API server does.
func (o k8sObject) values(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range o.Data {
		if o.Kind == "Secret" {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				t.Fatalf("Secret %s: data.%s: %v", o.Metadata.Name, k, err)
			}
			v = string(b)
		}
		out[k] = v
	}
	for k, v := range o.StringData {
		out[k] = v
	}
	return out
}

type k8sPodSpec struct {
	Containers []k8sContainer `yaml:"containers"`
	Volumes    []struct {
		Name      string           `yaml:"name"`
		ConfigMap *k8sVolumeSource `yaml:"configMap"`
		Secret    *k8sVolumeSource `yaml:"secret"`
		Projected *struct {
			Sources []struct {
				ConfigMap *k8sVolumeSource `yaml:"configMap"`
				Secret    *k8sVolumeSource `yaml:"secret"`
			} `yaml:"sources"`
		} `yaml:"projected"`
	} `yaml:"volumes"`
}

type k8sContainer struct {
	Name string   `yaml:"name"`
	Args []string `yaml:"args"`
	Env  []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			SecretKeyRef    *k8sKeyRef `yaml:"secretKeyRef"`
			ConfigMapKeyRef *k8sKeyRef `yaml:"configMapKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	EnvFrom []struct {
		Prefix       string     `yaml:"prefix"`
		SecretRef    *k8sKeyRef `yaml:"secretRef"`
		ConfigMapRef *k8sKeyRef `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type k8sKeyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type k8sVolumeSource struct {
	Name       string `yaml:"name"`       // configMap, and secret inside projected
	SecretName string `yaml:"secretName"` // secret volume
	Items      []struct {
		Key  string `yaml:"key"`
		Path string `yaml:"path"`
	} `yaml:"items"`
}

// k8sFile is one file a volume puts in a directory: the key of the object
// it comes from.
type k8sFile struct {
	Kind, Name, Key string // "Secret", "authgate", "es256.pem"
}

// kubernetesObjects reads every object in kubernetes/, keyed "Kind/name".
// The Secret is the committed example: it stands for the real one.
func kubernetesObjects(t *testing.T) map[string]k8sObject {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("kubernetes/*.yaml: %v, %d files", err, len(files))
	}
	objs := map[string]k8sObject{}
	for _, f := range files {
		docs, err := yamlDocs(readFile(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, doc := range docs {
			var o k8sObject
			if err := doc.Decode(&o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" || o.Kind == "Kustomization" {
				continue
			}
			objs[o.Kind+"/"+o.Metadata.Name] = o
		}
	}
	return objs
}

// authgateContainer returns the Deployment's pod spec and its container
// named authgate.
func authgateContainer(t *testing.T, objs map[string]k8sObject) (k8sPodSpec, k8sContainer) {
	t.Helper()
	for _, o := range objs {
		if o.Kind != "Deployment" {
			continue
		}
		pod := o.Spec.Template.Spec
		for _, c := range pod.Containers {
			if c.Name == "authgate" {
				return pod, c
			}
		}
	}
	t.Fatal("kubernetes/: no Deployment with a container named authgate")
	return k8sPodSpec{}, k8sContainer{}
}

// mountedFiles returns the files the volume mounted at dir puts there, by
// name relative to dir.
func mountedFiles(t *testing.T, objs map[string]k8sObject, pod k8sPodSpec, c k8sContainer, dir string) map[string]k8sFile {
	t.Helper()
	volume := ""
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == dir && m.SubPath == "" {
			volume = m.Name
		}
	}
	files := map[string]k8sFile{}
	add := func(kind string, src *k8sVolumeSource) {
		if src == nil {
			return
		}
		name := src.Name
		if kind == "Secret" && src.SecretName != "" {
			name = src.SecretName
		}
		if len(src.Items) == 0 { // every key becomes a file
			o, ok := objs[kind+"/"+name]
			if !ok {
				t.Fatalf("kubernetes/: volume %s uses %s %s, which is not defined", volume, kind, name)
			}
			for key := range o.values(t) {
				files[key] = k8sFile{kind, name, key}
			}
		}
		for _, it := range src.Items {
			files[it.Path] = k8sFile{kind, name, it.Key}
		}
	}
	for _, v := range pod.Volumes {
		if v.Name != volume {
			continue
		}
		add("ConfigMap", v.ConfigMap)
		add("Secret", v.Secret)
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				add("ConfigMap", s.ConfigMap)
				add("Secret", s.Secret)
			}
		}
	}
	return files
}

// configArg returns the --config argument of args, or the image's default.
func configArg(args []string) string {
	if i := slices.Index(args, "--config"); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return configPath
}

// kubernetesDeployment is the authgate container of the sidecar
// Deployment: the config its volume mounts at --config, its env and
// envFrom, and the other files that volume puts beside the config.
func kubernetesDeployment(t *testing.T) deployment {
	t.Helper()
	objs := kubernetesObjects(t)
	pod, c := authgateContainer(t, objs)
	cfgPath := configArg(c.Args)
	files := mountedFiles(t, objs, pod, c, path.Dir(cfgPath))
	cf, ok := files[path.Base(cfgPath)]
	if !ok || cf.Kind != "ConfigMap" {
		t.Fatalf("kubernetes/: no ConfigMap key is mounted at %s (--config)", cfgPath)
	}
	cm, ok := objs["ConfigMap/"+cf.Name]
	if !ok {
		t.Fatalf("kubernetes/: ConfigMap %s is not defined", cf.Name)
	}
	text, ok := cm.Data[cf.Key]
	if !ok {
		t.Fatalf("kubernetes/: ConfigMap %s has no key %s", cf.Name, cf.Key)
	}
	d := deployment{
		name:       "kubernetes",
		container:  true,
		configFile: "deploy/kubernetes ConfigMap " + cf.Name + " key " + cf.Key,
		config:     []byte(text),
		given:      map[string]string{},
		files:      map[string]string{},
	}
	for name, f := range files {
		if name != path.Base(cfgPath) {
			d.files[name] = f.Kind + " " + f.Name + " key " + f.Key
		}
	}
	for _, e := range c.Env {
		d.given[e.Name] = "container authgate env"
	}
	for _, ef := range c.EnvFrom {
		kind, r := "Secret", ef.SecretRef
		if r == nil {
			kind, r = "ConfigMap", ef.ConfigMapRef
		}
		if r == nil {
			continue
		}
		o, ok := objs[kind+"/"+r.Name]
		if !ok {
			t.Fatalf("kubernetes/: envFrom names %s %s, which is not defined", kind, r.Name)
		}
		for key := range o.values(t) {
			d.given[ef.Prefix+key] = "container authgate envFrom " + kind + " " + r.Name
		}
	}
	return d
}

// systemdUnit returns the [Service] settings of a unit file, each key with
// every value it is given.
func systemdUnit(t *testing.T, name string) map[string][]string {
	t.Helper()
	settings := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(readFile(t, name)), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			settings[strings.TrimSpace(k)] = append(settings[strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return settings
}

// systemdDeployment is authgate.service with config.yaml and
// authgate.env.example installed where deploy/README.md says.
func systemdDeployment(t *testing.T) deployment {
	t.Helper()
	const unit = "systemd/authgate.service"
	s := systemdUnit(t, unit)
	if len(s["ExecStart"]) != 1 || configArg(strings.Fields(s["ExecStart"][0])) != configPath {
		t.Fatalf("%s: ExecStart %q; want one that passes --config %s", unit, s["ExecStart"], configPath)
	}
	d := deployment{name: "systemd", configFile: "deploy/systemd/config.yaml", config: readFile(t, "systemd/config.yaml"), given: map[string]string{}}
	for _, env := range s["Environment"] {
		for _, f := range strings.Fields(env) {
			name, _, _ := strings.Cut(strings.Trim(f, `"`), "=")
			d.given[name] = unit + " Environment="
		}
	}
	for _, ef := range s["EnvironmentFile"] {
		example := "systemd/" + path.Base(strings.TrimPrefix(ef, "-")) + ".example"
		for _, v := range readEnvFile(t, example) {
			d.given[v.Name] = "deploy/" + example
		}
	}
	return d
}
