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

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
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
}

// Receiver is the assembled sidecar: its stores and the runnables added to the manager.
type Receiver struct {
	Store      store.Store
	Kube       *Kube
	Server     *Server
	Dispatcher *Dispatcher
	Status     *StatusWriter
	Relay      *Relay
	Metrics    *Metrics

	listener net.Listener
	certs    *certwatcher.CertWatcher // nil without TLS
}

// Add opens the store (unless cfg brings one) and adds the webhook server, the dispatcher, the
// status writer and the relay to mgr. Close the Receiver after mgr.Start returns.
func Add(mgr ctrl.Manager, cfg Config) (*Receiver, error) {
	// The certificate first: a receiver that cannot serve its webhooks must not start.
	certs, err := newCertWatcher(cfg)
	if err != nil {
		return nil, err
	}
	if err := IndexFields(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return nil, fmt.Errorf("index CoexNumbers: %w", err)
	}
	st := cfg.Store
	if st == nil {
		if st, err = bolt.Open(cfg.SpoolDir); err != nil {
			return nil, err
		}
	}
	log := ctrl.Log.WithName("receiver")
	r := &Receiver{Store: st, Metrics: NewMetrics(metrics.Registry), certs: certs}
	r.Kube = &Kube{Reader: mgr.GetCache(), RotationGrace: cfg.RotationGrace}
	r.Server = NewServer(ServerOptions{Inbox: st, Credentials: r.Kube, Metrics: r.Metrics,
		Logger: log.WithName("http"), MaxBodyBytes: cfg.MaxBodyBytes})
	r.Status = NewStatusWriter(StatusWriterOptions{Client: mgr.GetClient(), Reader: mgr.GetCache(),
		APIReader: mgr.GetAPIReader(), Store: st,
		Interval: cfg.StatusInterval, Events: mgr.GetEventRecorder("coex-receiver"), Metrics: r.Metrics,
		Logger: log.WithName("status")})
	r.Dispatcher = NewDispatcher(DispatcherOptions{Store: st, Resolver: r.Kube, Metrics: r.Metrics,
		Logger: log.WithName("dispatch"), Applied: r.Status.Mark})
	r.Relay = NewRelay(RelayOptions{Outbox: st, Endpoints: r.Kube.Endpoint, Workers: cfg.RelayWorkers,
		BatchSize: cfg.RelayBatchSize, Logger: log.WithName("relay"), Metrics: NewRelayMetrics(metrics.Registry)})

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
	runnables := []manager.Runnable{
		afterSync(r.serve()),
		afterSync(r.Dispatcher.Start),
		afterSync(r.Status.Start),
		afterSync(r.Relay.Start),
		manager.RunnableFunc(r.gauges),
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

// Addr is the webhook listener's address.
func (r *Receiver) Addr() net.Addr { return r.listener.Addr() }

// Close closes the stores; call it once the manager has stopped.
func (r *Receiver) Close() {
	if r.listener != nil {
		_ = r.listener.Close()
	}
	_ = r.Store.Close()
}

// serve runs the webhook server; on stop it lets requests in flight finish (their bodies are
// being made durable) before returning. A server that fails returns its error at once, which
// stops the manager and the receiver with it: running on without answering Meta would only
// look healthy.
func (r *Receiver) serve() func(context.Context) error {
	return func(ctx context.Context) error {
		srv := &http.Server{
			Handler:           r.Server,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       2 * time.Minute,
			WriteTimeout:      2 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		l := r.listener
		if r.certs != nil {
			l = tlsListener(l, r.certs)
		}
		err := srv.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			<-done
			return nil
		}
		return fmt.Errorf("webhook server: %w", err)
	}
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
