package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/store"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// TLS modes (tls.mode).
const (
	tlsACME       = "acme"
	tlsFiles      = "files"
	tlsSelfSigned = "self_signed"
	tlsOff        = "off"
)

// certSource is how the https listener obtains its certificate, chosen once
// from tls.mode at construction.
type certSource struct {
	mode string
	// config is the https listener's TLS configuration; nil when mode is off.
	config *tls.Config
	// acme is set in acme mode: its HTTPHandler answers HTTP-01 challenges
	// on the http listener and its TLSConfig answers TLS-ALPN-01.
	acme *autocert.Manager
	// hosts are the names a certificate exists (or may be ordered) for; the
	// http listener redirects only to these (or, without ACME, to any host
	// a route serves).
	hosts []string
	// selfSignedFile is the certificate path in self_signed mode, for the
	// startup log (users point curl --cacert at it).
	selfSignedFile string
}

// newCertSource prepares certificates for cfg.TLS. Everything that can be
// wrong (unreadable files, a bad CA file) fails here, before any listener
// opens. db is needed only for tls.acme.cache: database.
func newCertSource(cfg *Config, db *store.DB) (*certSource, error) {
	t := cfg.TLS
	src := &certSource{mode: t.Mode}
	switch t.Mode {
	case tlsOff:
		return src, nil
	case tlsFiles:
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file/key_file: %w", err)
		}
		src.config = baseTLSConfig()
		src.config.Certificates = []tls.Certificate{pair}
		if pair.Leaf != nil {
			src.hosts = pair.Leaf.DNSNames
		}
		return src, nil
	case tlsSelfSigned:
		hosts := append([]string{"localhost", "127.0.0.1", "::1"}, exactRouteHosts(cfg)...)
		certFile := filepath.Join(cfg.Dir(), "certs", "selfsigned.crt")
		keyFile := filepath.Join(cfg.Dir(), "certs", "selfsigned.key")
		pair, err := loadOrCreateSelfSigned(certFile, keyFile, hosts, time.Now())
		if err != nil {
			return nil, fmt.Errorf("tls self_signed: %w", err)
		}
		src.config = baseTLSConfig()
		src.config.Certificates = []tls.Certificate{pair}
		src.hosts = hosts
		src.selfSignedFile = certFile
		return src, nil
	case tlsACME:
		m, hosts, err := newACMEManager(cfg, db)
		if err != nil {
			return nil, err
		}
		src.acme = m
		src.hosts = hosts
		src.config = m.TLSConfig() // GetCertificate + NextProtos h2, http/1.1, acme-tls/1
		src.config.MinVersion = tls.VersionTLS12
		return src, nil
	}
	return nil, fmt.Errorf("tls.mode: unknown mode %q", t.Mode)
}

// baseTLSConfig is TLS 1.2 and up with Go's default cipher suites, which are
// all AEAD with forward secrecy; HTTP/2 is negotiated through ALPN.
func baseTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// exactRouteHosts lists the non-wildcard hosts named in routes, in order,
// without duplicates.
func exactRouteHosts(cfg *Config) []string {
	var hosts []string
	for _, r := range cfg.Routes {
		for _, h := range r.Hosts {
			if !strings.HasPrefix(h, "*.") && !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	return hosts
}

// newACMEManager builds the autocert manager. Its host policy is a fixed
// allow-list — tls.acme.hosts, or else every exact host named in routes —
// and never open: an open policy lets anyone who points a name at us make us
// place orders until the CA's rate limit locks out the real names.
func newACMEManager(cfg *Config, db *store.DB) (*autocert.Manager, []string, error) {
	a := cfg.TLS.ACME
	hosts := a.Hosts
	if len(hosts) == 0 {
		hosts = exactRouteHosts(cfg)
	}
	if len(hosts) == 0 {
		return nil, nil, errors.New("tls.acme.hosts: no host to obtain a certificate for: list them, or name exact hosts in routes")
	}
	var cache autocert.Cache
	if a.Cache == "database" {
		if db == nil {
			return nil, nil, errors.New("tls.acme.cache: \"database\" needs the database to be open")
		}
		cache = &dbCertCache{db: db}
	} else {
		if err := os.MkdirAll(a.Cache, 0o700); err != nil {
			return nil, nil, fmt.Errorf("tls.acme.cache: %w", err)
		}
		cache = autocert.DirCache(a.Cache)
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if a.CAFile != "" {
		pemBytes, err := os.ReadFile(a.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls.acme.ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, nil, fmt.Errorf("tls.acme.ca_file: %s holds no PEM certificate", a.CAFile)
		}
	}
	client := &acme.Client{
		DirectoryURL: a.DirectoryURL,
		UserAgent:    "authgate",
		HTTPClient: &http.Client{
			Timeout: 60 * time.Second,
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout: 10 * time.Second,
			},
		},
	}
	allowed := autocert.HostWhitelist(hosts...)
	m := &autocert.Manager{
		Prompt: autocert.AcceptTOS,
		Cache:  cache,
		// autocert checks the policy against the SNI name, and for HTTP-01
		// against the Host header, which carries a port whenever the CA
		// validates on one other than 80: compare the name alone.
		HostPolicy: func(ctx context.Context, host string) error {
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			return allowed(ctx, host)
		},
		Client: client,
		Email:  a.Email,
	}
	return m, hosts, nil
}

// loadOrCreateSelfSigned returns the development certificate kept in
// certFile/keyFile, creating a new one when there is none, it expires within
// 30 days, or it does not cover every name in hosts.
func loadOrCreateSelfSigned(certFile, keyFile string, hosts []string, now time.Time) (tls.Certificate, error) {
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && pair.Leaf != nil {
		if pair.Leaf.NotAfter.After(now.Add(30*24*time.Hour)) && coversAll(pair.Leaf, hosts) {
			return pair, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "authgate self-signed", Organization: []string{"authgate development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that clients can trust it directly with --cacert
	}
	addSANs(tmpl, hosts)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

func coversAll(leaf *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so a crash never leaves half a key behind.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// addSANs names hosts in the certificate: IP addresses as IP SANs, the
// rest as DNS names.
func addSANs(tmpl *x509.Certificate, hosts []string) {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
}
