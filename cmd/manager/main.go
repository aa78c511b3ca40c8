// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Command manager runs coex-operator's controller manager: the reconcilers of CoexNumber and
// MetaApp, Prometheus metrics, health probes and leader election.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	whatsappv1alpha1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/controllers"
	"github.com/coex-operator/coex-operator/internal/graph"
	"github.com/coex-operator/coex-operator/internal/receivercreds"
	"github.com/coex-operator/coex-operator/internal/receivertoken"
)

// leaderElectionID names the Lease the replicas compete for.
const leaderElectionID = "coex-operator.whatsapp.coex.dev"

// options are the manager's command-line flags.
type options struct {
	metricsAddr   string
	secureMetrics bool
	probeAddr     string
	leaderElect   bool
	leaderElectNS string

	unsupportedCallingCodes string
	subscriptionRecheck     time.Duration
	appInactivityWarning    time.Duration
	graphRPS                float64
	graphBurst              int
	maxConcurrentReconciles int

	operatorNamespace   string
	receiverCredentials string
	rotationGrace       time.Duration
	receiverSA          string
	receiverTokenDir    string
}

func (o *options) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080",
		"Address the Prometheus metrics endpoint binds to; \"0\" disables it.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", false,
		"Serve metrics over HTTPS, allowing only callers that Kubernetes authenticates and authorizes "+
			"(TokenReview and SubjectAccessReview for GET /metrics).")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081",
		"Address /healthz and /readyz bind to.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"Elect a leader through a Lease so that only one replica reconciles at a time.")
	fs.StringVar(&o.leaderElectNS, "leader-election-namespace", "",
		"Namespace of the leader election Lease; defaults to --operator-namespace.")
	fs.StringVar(&o.unsupportedCallingCodes, "unsupported-calling-codes",
		strings.Join(controllers.DefaultUnsupportedCallingCodes, ","),
		"Comma-separated country calling codes where coexistence is unavailable; numbers there stall "+
			"with reason UnsupportedCountry. Empty allows every country.")
	fs.DurationVar(&o.subscriptionRecheck, "subscription-recheck", controllers.DefaultSubscriptionRecheck,
		"How often a number's WABA subscription and a MetaApp's webhook fields are read again (drift), plus up to 10% jitter.")
	fs.DurationVar(&o.appInactivityWarning, "app-inactivity-warning", controllers.DefaultAppInactivityWarning,
		"Warn (condition AppEchoesRecent=False) when no message sent from the Business app has been seen for this long.")
	fs.Float64Var(&o.graphRPS, "graph-rps", 20, "Graph API requests per second per Meta app (token bucket).")
	fs.IntVar(&o.graphBurst, "graph-burst", 40, "Graph API request burst per Meta app.")
	fs.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles,
		"CoexNumbers reconciled at once.")
	fs.StringVar(&o.operatorNamespace, "operator-namespace", receivercreds.OperatorNamespace(),
		"The operator's namespace, where the receiver's credentials Secret and ServiceAccount are (default $POD_NAMESPACE).")
	fs.StringVar(&o.receiverCredentials, "receiver-credentials-secret", receivercreds.DefaultSecretName,
		"The Secret the leader keeps the receiver's app secrets, verify tokens and relay keys in (copied from the "+
			"tenants' Secrets the MetaApps and CoexNumbers name).")
	fs.DurationVar(&o.rotationGrace, "rotation-grace", controllers.DefaultRotationGrace,
		"After a MetaApp's app secret changes, the previous one stays in the receiver's credentials this long.")
	fs.StringVar(&o.receiverSA, "receiver-service-account", "coex-receiver",
		"The receiver's own ServiceAccount, in --operator-namespace: its short-lived token goes to --receiver-token-dir.")
	fs.StringVar(&o.receiverTokenDir, "receiver-token-dir", "",
		"Where to keep a token of --receiver-service-account and a kubeconfig naming it, for the receiver container "+
			"(an in-memory volume both mount); empty: none (the receiver brings its own credentials).")
}

// controllerOptions are the reconcilers' options from the flags.
func (o options) controllerOptions() controllers.Options {
	codes := []string{}
	for _, c := range strings.Split(o.unsupportedCallingCodes, ",") {
		if c = strings.TrimPrefix(strings.TrimSpace(c), "+"); c != "" {
			codes = append(codes, c)
		}
	}
	return controllers.Options{
		Graph:                   controllers.NewHTTPGraphFactory(graph.Options{Observer: controllers.GraphObserver()}, o.graphRPS, o.graphBurst),
		UnsupportedCallingCodes: codes,
		SubscriptionRecheck:     o.subscriptionRecheck,
		AppInactivityWarning:    o.appInactivityWarning,
		MaxConcurrentReconciles: o.maxConcurrentReconciles,
		ReceiverCredentials:     client.ObjectKey{Namespace: o.operatorNamespace, Name: o.receiverCredentials},
		RotationGrace:           o.rotationGrace,
	}
}

func (o options) managerOptions() ctrl.Options {
	scheme := runtime.NewScheme()
	must(clientgoscheme.AddToScheme(scheme))
	must(whatsappv1alpha1.AddToScheme(scheme))

	metrics := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.secureMetrics}
	if o.secureMetrics {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return ctrl.Options{
		Scheme: scheme,
		// Secret values are read when needed, past the cache; the reconcilers watch Secrets as
		// metadata only, so no Secret data of any tenant is ever listed or held in memory.
		Client:                        client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Metrics:                       metrics,
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       cmp.Or(o.leaderElectNS, o.operatorNamespace),
		LeaderElectionReleaseOnCancel: true,
	}
}

func main() {
	var opts options
	opts.bind(flag.CommandLine)
	logOpts := zap.Options{}
	logOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	// Structured JSON logs by default; --zap-devel switches to console output for humans.
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&logOpts)))

	if err := run(opts.managerOptions(), opts.controllerOptions(), opts); err != nil {
		ctrl.Log.WithName("setup").Error(err, "manager stopped")
		os.Exit(1)
	}
}

func run(opts ctrl.Options, copts controllers.Options, o options) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("cannot load a kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return fmt.Errorf("cannot create the manager: %w", err)
	}
	copts.Events = mgr.GetEventRecorder("coex-operator")
	if err := mgr.Add(setupWhenServed(mgr, copts)); err != nil {
		return err
	}
	if o.receiverTokenDir != "" {
		if err := mgr.Add(&receivertoken.Writer{Client: mgr.GetClient(), Namespace: o.operatorNamespace,
			ServiceAccount: o.receiverSA, Dir: o.receiverTokenDir, Server: cfg,
			Log: ctrl.Log.WithName("receiver-token")}); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("crds", crdsServed(mgr)); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("starting the manager",
		"metrics", opts.Metrics.BindAddress, "probes", opts.HealthProbeBindAddress, "leaderElection", opts.LeaderElection)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// crdsServed is the readiness check: the manager is of no use until the API server serves
// both kinds, so missing CRDs show as not ready instead of as silent idling. controller-runtime
// logs failed probes only at V(1), so the check logs its reason itself, once per change.
func crdsServed(mgr ctrl.Manager) healthz.Checker {
	log := ctrl.Log.WithName("readiness")
	var lastErr atomic.Pointer[string]
	return func(_ *http.Request) error {
		err := servesKinds(mgr.GetRESTMapper(), "CoexNumber", "MetaApp")
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if prev := lastErr.Swap(&msg); prev == nil || *prev != msg {
			if err != nil {
				log.Info("not ready", "reason", msg)
			} else if prev != nil {
				log.Info("ready")
			}
		}
		return err
	}
}

// setupWhenServed registers the reconcilers once the API server serves both kinds. Until then
// the manager is live but not ready (see crdsServed) instead of crash-looping, so installing
// the CRDs after the operator, as GitOps tools may, just works.
func setupWhenServed(mgr ctrl.Manager, opts controllers.Options) manager.Runnable {
	return manager.RunnableFunc(func(ctx context.Context) error {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for servesKinds(mgr.GetRESTMapper(), "CoexNumber", "MetaApp") != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		if err := controllers.Setup(mgr, opts); err != nil {
			return fmt.Errorf("cannot set up the reconcilers: %w", err)
		}
		ctrl.Log.WithName("setup").Info("reconcilers started")
		return nil
	})
}

func servesKinds(mapper meta.RESTMapper, kinds ...string) error {
	for _, kind := range kinds {
		gvk := whatsappv1alpha1.GroupVersion.WithKind(kind)
		if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return fmt.Errorf("%s is not served by the API server (are the CRDs installed?): %w", gvk.GroupKind(), err)
		}
	}
	return nil
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
