package deploy

import (
	"bufio"
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
