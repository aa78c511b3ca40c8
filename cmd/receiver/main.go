// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Command receiver is coex-operator's webhook receiver, run as a sidecar of the manager (same
// image): it answers Meta's callbacks on /webhooks/<namespace>/<metaapp>, keeps every verified
// body in a durable spool before answering 200, applies them to CoexNumber status and relays
// normalized events to the tenant's endpoint.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	whatsappv1alpha1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/receiver"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
)

func main() {
	var cfg receiver.Config
	var metricsAddr, probeAddr string
	flag.StringVar(&cfg.WebhookAddr, "webhook-bind-address", ":8443",
		"Address Meta's webhooks are served on, at /webhooks/<namespace>/<metaapp>.")
	flag.StringVar(&cfg.TLSCertFile, "tls-cert-file", "", "Serve webhooks over HTTPS with this certificate (and --tls-key-file), "+
		"re-read when the files change; without it, terminate TLS at the Ingress. Files that cannot be served stop the receiver at start.")
	flag.StringVar(&cfg.TLSKeyFile, "tls-key-file", "", "Private key of --tls-cert-file.")
	flag.StringVar(&cfg.SpoolDir, "spool-dir", "/var/lib/coex-receiver",
		"Directory of the durable spool and state (bbolt files); mount a volume that outlives the container.")
	flag.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", receiver.DefaultMaxBodyBytes,
		"Largest webhook body accepted (413 above); Meta sends up to 3 MB.")
	flag.DurationVar(&cfg.StatusInterval, "status-interval", time.Second,
		"Writes of a CoexNumber's status are coalesced to at most one per interval.")
	flag.DurationVar(&cfg.RotationGrace, "rotation-grace", 15*time.Minute,
		"After a MetaApp's app secret changes, webhooks signed with the previous one are accepted this long.")
	flag.IntVar(&cfg.RelayWorkers, "relay-workers", 8, "Numbers whose events are relayed in parallel.")
	flag.IntVar(&cfg.RelayBatchSize, "relay-batch-size", 500, "Most events per relay POST.")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8082", "Address the Prometheus metrics endpoint binds to; \"0\" disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8083", "Address /healthz and /readyz bind to.")
	var deadLetters, withBodies, replay bool
	flag.BoolVar(&deadLetters, "dead-letters", false,
		"Print the dead letters kept in --spool-dir as JSON lines and exit (stop the receiver first: the files are locked).")
	flag.BoolVar(&withBodies, "with-bodies", false, "With --dead-letters: include each webhook body (it may hold personal data).")
	flag.BoolVar(&replay, "replay-dead-letters", false,
		"Move the dead letters in --spool-dir back into the spool and exit; the next start applies them "+
			"(after creating the CoexNumber they named, say). Stop the receiver first.")
	logOpts := zap.Options{}
	logOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&logOpts)))

	if replay {
		n, err := replayDeadLetters(cfg.SpoolDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%d dead letters moved back into the spool\n", n)
		return
	}
	if deadLetters {
		if err := printDeadLetters(os.Stdout, cfg.SpoolDir, withBodies); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}

	if err := run(cfg, metricsAddr, probeAddr); err != nil {
		ctrl.Log.WithName("setup").Error(err, "receiver stopped")
		os.Exit(1)
	}
}

func run(cfg receiver.Config, metricsAddr, probeAddr string) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := whatsappv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("cannot load a kubeconfig: %w", err)
	}
	// No leader election: every replica answers the webhooks the Service sends it.
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
	})
	if err != nil {
		return fmt.Errorf("cannot create the manager: %w", err)
	}
	r, err := receiver.Add(mgr, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("cache", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return fmt.Errorf("cache not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("starting the receiver", "webhooks", r.Addr().String(), "spool", cfg.SpoolDir)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// printDeadLetters writes each dead letter as a JSON line: where it came from, when, why it
// was kept, its size and, if asked, its body.
func printDeadLetters(w io.Writer, spoolDir string, withBodies bool) error {
	state, err := bolt.OpenStateReadOnly(filepath.Join(spoolDir, bolt.StateFile))
	if err != nil {
		return err
	}
	defer state.Close()
	letters, err := state.DeadLetters()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, d := range letters {
		line := map[string]any{"seq": d.Seq, "namespace": d.Namespace, "metaapp": d.App,
			"receivedAt": d.ReceivedAt.UTC().Format(time.RFC3339Nano), "reason": d.Reason, "bytes": len(d.Body)}
		if withBodies {
			line["body"] = string(d.Body)
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

// replayDeadLetters moves the dead letters of a stopped receiver back into its spool.
func replayDeadLetters(spoolDir string) (int, error) {
	st, err := bolt.Open(spoolDir)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	return st.ReplayDeadLetters(context.Background())
}
