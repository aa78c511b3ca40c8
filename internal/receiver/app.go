// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/coex-operator/coex-operator/internal/receiver/ingest"
	"github.com/coex-operator/coex-operator/internal/receiver/process"
	"github.com/coex-operator/coex-operator/internal/receiver/project"
	"github.com/coex-operator/coex-operator/internal/receiver/relay"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
	"github.com/coex-operator/coex-operator/internal/receivercreds"
)

// Config is the receiver's configuration (cmd/receiver's flags).
type Config struct {
	// Store keeps everything; when nil, the embedded bolt store is opened in SpoolDir.
	Store store.Store
	// SpoolDir holds the bolt store's spool.db and state.db; put it on a volume that outlives
	// the container.
	SpoolDir string
	// WebhookAddr is where Meta's callbacks are served (/webhooks/<namespace>/<metaapp>).
	WebhookAddr string
	// TLSCertFile and TLSKeyFile serve HTTPS when both are set, re-read when they change;
	// with neither, TLS ends at the Ingress in front of the Service. One without the other
	// is an error.
	TLSCertFile, TLSKeyFile string
	MaxBodyBytes            int64
	StatusInterval          time.Duration
	RotationGrace           time.Duration
	RelayWorkers            int
	RelayBatchSize          int
	// Credentials is the Secret the manager projects the tenants' app secrets, verify tokens
	// and relay keys into (package receivercreds); the receiver reads no other Secret.
	Credentials client.ObjectKey
}

// Receiver is the assembled sidecar: its stores and the runnables added to the manager.
type Receiver struct {
	Store      store.Store
	Kube       *Kube
	Server     *ingest.Server
	Dispatcher *process.Dispatcher
	Status     *project.StatusWriter
	Relay      *relay.Relay
	Metrics    *Metrics
	// Credentials is the receiver's copy of the projected credentials.
	Credentials *receivercreds.Source

	listener net.Listener
	certs    *certwatcher.CertWatcher // nil without TLS
}

// Add opens the store (unless cfg brings one) and adds the webhook server, the dispatcher, the
// status writer and the relay to mgr. Close the Receiver after mgr.Start returns. Add owns
// cfg.Store: it closes it when it fails.
func Add(mgr ctrl.Manager, cfg Config) (*Receiver, error) {
	// The certificate first: a receiver that cannot serve its webhooks must not start.
	certs, err := ingest.NewCertWatcher(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err == nil {
		if err = IndexFields(context.Background(), mgr.GetFieldIndexer()); err != nil {
			err = fmt.Errorf("index CoexNumbers: %w", err)
		}
	}
	if err != nil {
		if cfg.Store != nil {
			_ = cfg.Store.Close()
		}
		return nil, err
	}
	st := cfg.Store
	if st == nil {
		if st, err = bolt.Open(cfg.SpoolDir); err != nil {
			return nil, err
		}
	}
	log := ctrl.Log.WithName("receiver")
	r := &Receiver{Store: st, Metrics: NewMetrics(metrics.Registry), certs: certs}
	// The credentials Secret is read with a GET past the cache: a cached read would list and
	// watch Secrets, which the receiver's identity may not.
	r.Credentials = &receivercreds.Source{Reader: mgr.GetAPIReader(), Namespace: cfg.Credentials.Namespace, Name: cfg.Credentials.Name}
	r.Kube = &Kube{Reader: mgr.GetCache(), Secrets: r.Credentials, RotationGrace: cfg.RotationGrace}
	r.Server = ingest.NewServer(ingest.Options{Inbox: st, Credentials: r.Kube, Metrics: r.Metrics.Ingest,
		Logger: log.WithName("http"), MaxBodyBytes: cfg.MaxBodyBytes})
	r.Status = project.NewStatusWriter(project.Options{Client: mgr.GetClient(), Reader: mgr.GetCache(),
		APIReader: mgr.GetAPIReader(), Store: st,
		Interval: cfg.StatusInterval, Events: mgr.GetEventRecorder("coex-receiver"), Metrics: r.Metrics.Project,
		Logger: log.WithName("status")})
	r.Dispatcher = process.NewDispatcher(process.Options{Store: st, Resolver: r.Kube, Metrics: r.Metrics.Process,
		Logger: log.WithName("dispatch"), Applied: r.Status.Mark})
	r.Relay = relay.New(relay.Options{Outbox: st, Endpoints: r.Kube.Endpoint, Workers: cfg.RelayWorkers,
		BatchSize: cfg.RelayBatchSize, Logger: log.WithName("relay"), Metrics: r.Metrics.Relay})

	// The listener is opened now, so a port conflict fails at start and tests can use port 0.
	r.listener, err = net.Listen("tcp", cfg.WebhookAddr)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("webhook listener: %w", err)
	}
	afterSync := func(run func(context.Context) error) manager.RunnableFunc {
		return func(ctx context.Context) error {
			if !mgr.GetCache().WaitForCacheSync(ctx) {
				return nil
			}
			return run(ctx)
		}
	}
	serve := func(ctx context.Context) error { return r.Server.Serve(ctx, r.listener, r.certs) }
	runnables := []manager.Runnable{
		afterSync(serve),
		afterSync(r.Dispatcher.Start),
		afterSync(r.Status.Start),
		afterSync(r.Relay.Start),
		manager.RunnableFunc(r.gauges),
		r.Credentials,
	}
	if certs != nil {
		runnables = append(runnables, certs)
	}
	for _, run := range runnables {
		if err := mgr.Add(run); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// Ready is the receiver's readiness: it can accept and persist a webhook. Its view of the
// cluster is synced, the projected credentials were read, and the store takes writes now.
func (r *Receiver) Ready(cache interface{ WaitForCacheSync(context.Context) bool }) healthz.Checker {
	return func(req *http.Request) error {
		if !cache.WaitForCacheSync(req.Context()) {
			return errors.New("the cache of CoexNumbers and MetaApps is not synced")
		}
		if err := r.Credentials.Ready(); err != nil {
			return err
		}
		if c, ok := r.Store.(store.WriteChecker); ok {
			ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
			defer cancel()
			if err := c.CheckWritable(ctx); err != nil {
				return fmt.Errorf("store: %w", err)
			}
		}
		return nil
	}
}

// Addr is the webhook listener's address.
func (r *Receiver) Addr() net.Addr { return r.listener.Addr() }

// Close closes the stores; call it once the manager has stopped.
func (r *Receiver) Close() {
	if r.listener != nil {
		_ = r.listener.Close()
	}
	_ = r.Store.Close()
}

// gauges refreshes the backlog gauges every few seconds.
func (r *Receiver) gauges(ctx context.Context) error {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if n, err := r.Store.Depth(ctx); err == nil {
			r.Metrics.SpoolDepth.Set(float64(n))
		}
		if n, err := r.Store.OutboxDepth(ctx); err == nil {
			r.Metrics.OutboxEvents.Set(float64(n))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Metrics are the receiver's: each part's own, which it registers itself (ingest, process,
// project, relay), and the two backlog gauges, which are the assembly's because only it
// holds the store whole and measures them (gauges):
//
//	coex_receiver_spool_depth                        records spooled and not yet applied
//	coex_receiver_outbox_events                      events waiting for the relay
//
// The names and labels are documented in README and queried by dashboards and alerts: they
// do not change when code moves between packages.
type Metrics struct {
	Ingest       *ingest.Metrics
	Process      *process.Metrics
	Project      *project.Metrics
	Relay        *relay.Metrics
	SpoolDepth   prometheus.Gauge
	OutboxEvents prometheus.Gauge
}

// NewMetrics creates every metric of the receiver and registers them on reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Ingest:  ingest.NewMetrics(reg),
		Process: process.NewMetrics(reg),
		Project: project.NewMetrics(reg),
		Relay:   relay.NewMetrics(reg),
		SpoolDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coex_receiver_spool_depth", Help: "Spooled webhooks not yet applied.",
		}),
		OutboxEvents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coex_receiver_outbox_events", Help: "Events waiting for the relay.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.SpoolDepth, m.OutboxEvents)
	}
	return m
}
