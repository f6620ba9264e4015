// Package deploy holds authgate's deployment files: the container image's
// default config (docker/), docker-compose.yml with its config.yaml, the
// Kubernetes sidecar manifests (kubernetes/) and the systemd unit
// (systemd/). It has no Go API. Its tests keep those files honest: every
// YAML file parses, each deployment hands authgate exactly the environment
// variables its config reads and every one that config needs, example files
// hold placeholders only, and every config passes gateway.Load.
//
// It is imported by nothing and may import any of authgate's packages.
package deploy
