// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package ingest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with serial, and its key, to
// dir/tls.crt and dir/tls.key.
func writeCert(t *testing.T, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "coex-receiver"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestNewCertWatcherRefusesWhatCannotBeServed(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, 1)
	other, otherKey := writeCert(t, t.TempDir(), 2)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cert, key string
		wantErr   bool
		wantTLS   bool
	}{
		{name: "neither: TLS ends at the Ingress"},
		{name: "a certificate and its key", cert: cert, key: key, wantTLS: true},
		{name: "a certificate without its key", cert: cert, wantErr: true},
		{name: "a key without its certificate", key: key, wantErr: true},
		{name: "files that do not exist", cert: filepath.Join(dir, "missing.crt"), key: filepath.Join(dir, "missing.key"), wantErr: true},
		{name: "a file that is not PEM", cert: garbage, key: key, wantErr: true},
		{name: "a key of another certificate", cert: cert, key: otherKey, wantErr: true},
		{name: "the other certificate and its key", cert: other, key: otherKey, wantTLS: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cw, err := NewCertWatcher(tc.cert, tc.key)
			if tc.wantErr {
				if err == nil {
					t.Fatal("the receiver would start with a webhook server that cannot serve TLS; want an error at start")
				}
				return
			}
			if err != nil {
				t.Fatalf("a usable configuration was refused: %v", err)
			}
			if (cw != nil) != tc.wantTLS {
				t.Errorf("serving TLS = %v, want %v", cw != nil, tc.wantTLS)
			}
		})
	}
}

// TestWebhookServerServesARotatedCertificate: the certificate files are rewritten (as a
// renewed cert-manager Secret is) and the running server presents the new one at the next
// handshake, without a restart.
func TestWebhookServerServesARotatedCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, 1001)
	cw, err := NewCertWatcher(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	go func() { errc <- cw.Start(ctx) }()
	go func() { errc <- srv.Serve(ctx, l, cw) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-errc; err != nil {
				t.Errorf("stopping: %v", err)
			}
		}
	})

	// The test checks which certificate is served, not who signed it.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the serial is what is checked
	served := func() int64 {
		t.Helper()
		resp, err := client.Get("https://" + l.Addr().String() + "/webhooks/")
		if err != nil {
			t.Fatalf("HTTPS request to the webhook server: %v", err)
		}
		_ = resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if got := served(); got != 1001 {
		t.Fatalf("served certificate serial %d, want 1001", got)
	}
	writeCert(t, dir, 1002)
	deadline := time.Now().Add(15 * time.Second)
	for got := served(); got != 1002; got = served() {
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the certificate files were rewritten the server still presents serial %d, want 1002", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebhookServerFailureStopsTheReceiver: a server that cannot serve returns its error at
// once (the manager then stops), instead of waiting for a stop that never comes.
func TestWebhookServerFailureStopsTheReceiver(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close() // a listener that fails at its first Accept
	srv := NewServer(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, l, nil) }()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the webhook server stopped serving and reported no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the webhook server failed but Serve did not return: the receiver would run on without it")
	}
}
