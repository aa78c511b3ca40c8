// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Command receiver is coex-operator's webhook receiver, run as a sidecar of the manager (same
// image): it answers Meta's callbacks on /webhooks/<namespace>/<metaapp>, keeps every verified
// body in a durable spool before answering 200, applies them to CoexNumber status and relays
// normalized events to the tenant's endpoint.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	whatsappv1alpha1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/receiver"
	"github.com/coex-operator/coex-operator/internal/receiver/ingest"
	"github.com/coex-operator/coex-operator/internal/receivercreds"
)

// kubeconfigWait is the --kubeconfig-wait flag.
var kubeconfigWait time.Duration

func main() {
	var cfg receiver.Config
	var metricsAddr, probeAddr string
	var sf storeFlags
	flag.StringVar(&sf.kind, "store", "bolt", "Where webhooks, counts and the relay outbox are kept: bolt (embedded files "+
		"in --spool-dir; one replica) or postgres (a database shared by every replica; DSN from --postgres-dsn-file "+
		"or $COEX_POSTGRES_DSN).")
	flag.StringVar(&sf.dsnFile, "postgres-dsn-file", "", "With --store=postgres: a file holding the DSN (mount it from a "+
		"Secret). Several hosts with target_session_attrs=read-write follow a failover without a restart.")
	flag.StringVar(&cfg.WebhookAddr, "webhook-bind-address", ":8443",
		"Address Meta's webhooks are served on, at /webhooks/<namespace>/<metaapp>.")
	flag.StringVar(&cfg.TLSCertFile, "tls-cert-file", "", "Serve webhooks over HTTPS with this certificate (and --tls-key-file), "+
		"re-read when the files change; without it, terminate TLS at the Ingress. Files that cannot be served stop the receiver at start.")
	flag.StringVar(&cfg.TLSKeyFile, "tls-key-file", "", "Private key of --tls-cert-file.")
	flag.StringVar(&cfg.SpoolDir, "spool-dir", "/var/lib/coex-receiver",
		"Directory of the durable spool and state (bbolt files); mount a volume that outlives the container.")
	flag.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", ingest.DefaultMaxBodyBytes,
		"Largest webhook body accepted (413 above); Meta sends up to 3 MB.")
	flag.DurationVar(&cfg.StatusInterval, "status-interval", time.Second,
		"Writes of a CoexNumber's status are coalesced to at most one per interval.")
	flag.DurationVar(&cfg.RotationGrace, "rotation-grace", 15*time.Minute,
		"After a MetaApp's app secret changes, webhooks signed with the previous one are accepted this long.")
	flag.IntVar(&cfg.RelayWorkers, "relay-workers", 8, "Numbers whose events are relayed in parallel.")
	flag.IntVar(&cfg.RelayBatchSize, "relay-batch-size", 500, "Most events per relay POST.")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8082", "Address the Prometheus metrics endpoint binds to; \"0\" disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8083", "Address /healthz and /readyz bind to.")
	flag.StringVar(&cfg.Credentials.Name, "credentials-secret", receivercreds.DefaultSecretName,
		"The Secret, in --credentials-namespace, the manager projects app secrets, verify tokens and relay keys into; "+
			"the receiver needs no right on any other Secret.")
	flag.StringVar(&cfg.Credentials.Namespace, "credentials-namespace", receivercreds.OperatorNamespace(),
		"Namespace of --credentials-secret: the operator's (default $POD_NAMESPACE).")
	flag.DurationVar(&kubeconfigWait, "kubeconfig-wait", 2*time.Minute,
		"How long to wait at start for $KUBECONFIG to appear: in the operator's pod the manager writes it, with a "+
			"short-lived token of the receiver's own ServiceAccount.")
	var deadLetters, withBodies, replay bool
	flag.BoolVar(&deadLetters, "dead-letters", false,
		"Print the dead letters kept in the store as JSON lines and exit (with --store=bolt, stop the receiver first: the files are locked).")
	flag.BoolVar(&withBodies, "with-bodies", false, "With --dead-letters: include each webhook body (it may hold personal data).")
	flag.BoolVar(&replay, "replay-dead-letters", false,
		"Move the dead letters back into the store's inbox and exit; they are applied again (after creating the "+
			"CoexNumber they named, say). With --store=bolt, stop the receiver first; with postgres, running receivers apply them.")
	logOpts := zap.Options{}
	logOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&logOpts)))

	if replay {
		sf.dir = cfg.SpoolDir
		n, err := sf.replayDeadLetters(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%d dead letters moved back into the spool\n", n)
		return
	}
	if deadLetters {
		sf.dir = cfg.SpoolDir
		if err := sf.printDeadLetters(context.Background(), os.Stdout, withBodies); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}

	sf.dir = cfg.SpoolDir
	if err := run(cfg, sf, metricsAddr, probeAddr); err != nil {
		ctrl.Log.WithName("setup").Error(err, "receiver stopped")
		os.Exit(1)
	}
}

func run(cfg receiver.Config, sf storeFlags, metricsAddr, probeAddr string) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := whatsappv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := waitForKubeconfig(kubeconfigWait); err != nil {
		return err
	}
	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("cannot load a kubeconfig: %w", err)
	}
	// No leader election: every replica answers the webhooks the Service sends it. Secrets
	// are never cached: the receiver may get its one credentials Secret, and list none.
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
	})
	if err != nil {
		return fmt.Errorf("cannot create the manager: %w", err)
	}
	if cfg.Store, err = sf.open(context.Background()); err != nil {
		return fmt.Errorf("cannot open the %s store: %w", sf.kind, err)
	}
	r, err := receiver.Add(mgr, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("accepts-webhooks", r.Ready(mgr.GetCache())); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("starting the receiver", "webhooks", r.Addr().String(), "spool", cfg.SpoolDir)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// waitForKubeconfig waits for the file $KUBECONFIG names, if any, to exist: in the operator's
// pod the manager container writes it (with the receiver's own token) a moment after both
// start. Without $KUBECONFIG the usual rules apply (--kubeconfig, in-cluster).
func waitForKubeconfig(wait time.Duration) error {
	path := os.Getenv("KUBECONFIG")
	if path == "" || strings.Contains(path, string(os.PathListSeparator)) {
		return nil
	}
	deadline := time.Now().Add(wait)
	logged := false
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no kubeconfig at %s after %s: the manager container writes it with the receiver's token; "+
				"see its log (TokenRequest for the receiver's ServiceAccount)", path, wait)
		}
		if !logged {
			ctrl.Log.WithName("setup").Info("waiting for the manager to write the receiver's kubeconfig", "path", path)
			logged = true
		}
		time.Sleep(200 * time.Millisecond)
	}
}
