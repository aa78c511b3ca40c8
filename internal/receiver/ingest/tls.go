// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package ingest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// errHalfTLS: one of the two TLS files without the other would otherwise serve plain HTTP
// on a port Meta was told speaks HTTPS.
var errHalfTLS = errors.New("webhook TLS: --tls-cert-file and --tls-key-file go together: give both or neither")

// NewCertWatcher loads the webhook server's certificate and key, or returns nil when TLS ends
// at the Ingress (neither file given). Files that cannot be read or do not match are an
// error now, at start, so a receiver is never left running without its webhook server. The
// watcher re-reads them when they change (cert-manager renewing them in a mounted Secret,
// say), so a rotated certificate is served without a restart.
func NewCertWatcher(certFile, keyFile string) (*certwatcher.CertWatcher, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errHalfTLS
	}
	cw, err := certwatcher.New(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("webhook TLS: certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return cw, nil
}

// tlsListener serves l over TLS with the watcher's current certificate at each handshake.
func tlsListener(l net.Listener, cw *certwatcher.CertWatcher) net.Listener {
	return tls.NewListener(l, &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: cw.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	})
}
