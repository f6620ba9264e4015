# syntax=docker/dockerfile:1
#
# authgate container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t authgate .
#   docker run -p 8443:8443 -p 8080:8080 -p 127.0.0.1:9090:9090 \
#     -v authgate-data:/data -v authgate-certs:/certs authgate
#
# The default config (deploy/docker/config.yaml, at /etc/authgate/config.yaml)
# is the first-run demo: self-signed TLS, SQLite in /data, every route
# answered by builtin:echo. Mount your own file over it for real use; see
# deploy/README.md.

# ---- build ------------------------------------------------------------------
# Cross-compile on the build machine's own platform: with CGO off (SQLite is
# modernc, pure Go) GOOS/GOARCH are all a multi-arch build needs.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# Modules in their own layer: it is rebuilt only when go.mod or go.sum change,
# not on every source edit.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/authgate .

# The file system the final stage copies in. Self-signed certificates are
# kept in certs/ beside the config file (/etc/authgate/certs), which is part
# of the read-only image; the symlink sends them to the /certs volume.
RUN mkdir -p /out/etc/authgate /out/data /out/certs \
 && cp deploy/docker/config.yaml /out/etc/authgate/config.yaml \
 && ln -s /certs /out/etc/authgate/certs

# ---- run --------------------------------------------------------------------
# distroless/static rather than scratch: it is just as small and has no shell
# or package manager, and it already carries what a static Go binary needs
# from the OS, kept up to date by its maintainers: CA certificates (ACME
# directory, JWKS URLs, PostgreSQL/Redis over TLS), /etc/passwd with the
# non-root user 65532 "nonroot", tzdata and /tmp. With scratch we would copy
# and maintain each of those ourselves.
FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="authgate" \
      org.opencontainers.image.description="Authentication gateway: TLS, login and token API, JWT-checked reverse proxy" \
      org.opencontainers.image.source="https://github.com/authgate/authgate"

COPY --from=build /out/authgate /authgate
COPY --from=build /out/etc/authgate /etc/authgate
# Writable by the runtime user only: the SQLite database and the generated
# HS256 secret (/data), the self-signed certificate (/certs).
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build --chown=65532:65532 /out/certs /certs
VOLUME ["/data", "/certs"]

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# `docker run authgate user add …` finds ./config.yaml without --config.
WORKDIR /etc/authgate

# 8443 https, 8080 http (ACME HTTP-01 and the redirect to https), 9090 ops
# (/healthz, /readyz, /metrics). The image's config binds ops on every
# interface so that orchestrator probes can reach it: publish it on
# 127.0.0.1 only, never to the internet.
EXPOSE 8080 8443 9090

# No HEALTHCHECK: distroless has no shell, curl or wget to run one, and the
# binary has no probe subcommand. Let the orchestrator probe the ops port
# (Kubernetes httpGet /readyz and /healthz on 9090; see deploy/kubernetes).

# SIGTERM (the default stop signal) drains in-flight requests for up to 30 s:
# give `docker stop` a longer timeout (-t 35); compose sets stop_grace_period.
ENTRYPOINT ["/authgate"]
CMD ["serve", "--config", "/etc/authgate/config.yaml"]
