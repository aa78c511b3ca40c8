// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package receivertoken gives the webhook receiver its own Kubernetes identity. The pod's
// token is mounted in the manager container only; the manager asks the TokenRequest API for a
// short-lived token of the receiver's ServiceAccount (which may read CoexNumbers and MetaApps,
// patch their status, create Events and get one Secret) and writes it, with a kubeconfig
// naming it, into an in-memory volume the receiver container mounts. So the container that
// faces the internet never holds the manager's rights.
package receivertoken

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// File names in Writer.Dir.
const (
	TokenFile      = "token"
	KubeconfigFile = "kubeconfig"
)

// Writer keeps a fresh token of ServiceAccount Namespace/ServiceAccount in Dir, and a
// kubeconfig that names it. Every replica's manager runs it (the receiver of every replica
// serves webhooks, leader or not).
type Writer struct {
	Client                    client.Client
	Namespace, ServiceAccount string
	Dir                       string
	// Server is the API server the receiver talks to: the manager's own (its rest.Config).
	Server *rest.Config
	// Lifetime asked for each token (default 1 h; the API server may shorten it). A token is
	// renewed when half its life is gone, so the receiver always holds one with half left.
	Lifetime time.Duration
	Log      logr.Logger
	// Now is the clock (tests move it).
	Now func() time.Time
}

// NeedLeaderElection: every replica writes its own receiver's token.
func (w *Writer) NeedLeaderElection() bool { return false }

// Start writes a first token and then the kubeconfig (a receiver that finds the kubeconfig
// finds its token), then renews the token until ctx ends. A failed request is retried with
// backoff (from 1 s to 1 min); the receiver keeps the last token, valid for half a lifetime
// more, meanwhile.
func (w *Writer) Start(ctx context.Context) error {
	if err := os.MkdirAll(w.Dir, 0o750); err != nil {
		return err
	}
	backoff := func() wait.Backoff {
		return wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.2, Steps: 1 << 30, Cap: time.Minute}
	}
	retry, configured := backoff(), false
	for {
		next, err := w.Renew(ctx)
		if err == nil && !configured {
			if err = w.writeKubeconfig(); err == nil {
				configured = true
			}
		}
		if err != nil {
			next = retry.Step()
			w.Log.Error(err, "cannot give the receiver its token; retrying", "in", next.Round(time.Second).String())
		} else {
			retry = backoff()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(next):
		}
	}
}

// Renew requests one token and writes it; it returns when to renew it next.
func (w *Writer) Renew(ctx context.Context) (time.Duration, error) {
	lifetime := w.Lifetime
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	secs := int64(lifetime / time.Second)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: w.ServiceAccount}}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.Client.SubResource("token").Create(rctx, sa, tr); err != nil {
		return 0, fmt.Errorf("TokenRequest for ServiceAccount %s/%s: %w", w.Namespace, w.ServiceAccount, err)
	}
	if tr.Status.Token == "" {
		return 0, fmt.Errorf("TokenRequest for ServiceAccount %s/%s: empty token", w.Namespace, w.ServiceAccount)
	}
	if err := writeAtomic(filepath.Join(w.Dir, TokenFile), []byte(tr.Status.Token)); err != nil {
		return 0, err
	}
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	life := tr.Status.ExpirationTimestamp.Sub(now)
	if life <= 0 {
		life = lifetime
	}
	w.Log.V(1).Info("renewed the receiver's token", "expires", tr.Status.ExpirationTimestamp.UTC().Format(time.RFC3339))
	return life / 2, nil
}

// writeKubeconfig names the API server, its CA and the token file. The receiver's client
// re-reads the token file as it changes (client-go's tokenFile), so renewals need no restart.
func (w *Writer) writeKubeconfig() error {
	ca := w.Server.CAData
	if len(ca) == 0 && w.Server.CAFile != "" {
		b, err := os.ReadFile(w.Server.CAFile)
		if err != nil {
			return fmt.Errorf("read the API server's CA: %w", err)
		}
		ca = b
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: w.Server.Host, CertificateAuthorityData: ca,
		TLSServerName: w.Server.ServerName, InsecureSkipTLSVerify: w.Server.Insecure}
	cfg.AuthInfos["receiver"] = &clientcmdapi.AuthInfo{TokenFile: filepath.Join(w.Dir, TokenFile)}
	cfg.Contexts["receiver"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "receiver", Namespace: w.Namespace}
	cfg.CurrentContext = "receiver"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(w.Dir, KubeconfigFile), b)
}

// writeAtomic replaces path with data in one rename, so a reader never sees half a token.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o640); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
