package deploy

import (
	"encoding/base64"
	"path"
	"path/filepath"
	"slices"
	"testing"
)

// The Kubernetes manifests, read as the tests need them.

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
