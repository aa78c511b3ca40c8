// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package ingest is the receiver's front door: the HTTP server Meta calls. It answers the
// subscription handshake, bounds each body, checks X-Hub-Signature-256 against the MetaApp's
// app secrets (CredentialSource), and appends the verified body to the store's inbox before
// Meta gets its 200, so an acknowledged webhook is never lost. It serves over TLS when given
// a certificate (tls.go). It parses nothing: what a body means is the dispatcher's (package
// process), which drains the inbox.
package ingest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// maxNameLen is the longest Kubernetes object name (a DNS subdomain).
const maxNameLen = 253

// DefaultMaxBodyBytes bounds a webhook body: above Meta's 3 MB, with room for its envelope.
const DefaultMaxBodyBytes = 4 << 20

// Errors of a CredentialSource.
var (
	// ErrUnknownApp: no MetaApp of that name in that namespace.
	ErrUnknownApp = errors.New("no such MetaApp")
	// ErrNoCredentials: the MetaApp's app secret or verify token cannot be read (yet).
	ErrNoCredentials = errors.New("the MetaApp's app secret or verify token is not readable")
)

// Credentials are what the receiver checks Meta's requests with. AppSecrets holds the current
// app secret and, for a while after a rotation, the previous one: webhooks Meta signed before
// the rotation are still being retried.
type Credentials struct {
	AppSecrets  [][]byte
	VerifyToken []byte
}

// CredentialSource reads a MetaApp's credentials, following rotation.
type CredentialSource interface {
	Credentials(ctx context.Context, namespace, app string) (Credentials, error)
}

// Options configure the webhook endpoint.
type Options struct {
	Inbox        store.Inbox
	Credentials  CredentialSource
	Metrics      *Metrics // may be nil
	Logger       logr.Logger
	MaxBodyBytes int64 // default DefaultMaxBodyBytes
	Now          func() time.Time
}

// Server answers Meta: the subscription handshake (GET) and webhook deliveries (POST), on
// /webhooks/<namespace>/<metaapp>. A POST is answered 200 only once its body is on disk.
type Server struct {
	o    Options
	mux  *http.ServeMux
	bufs sync.Pool
}

// NewServer returns the webhook handler.
func NewServer(o Options) *Server {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, mux: http.NewServeMux()}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.mux.HandleFunc("GET /webhooks/{namespace}/{metaapp}", s.handshake)
	s.mux.HandleFunc("POST /webhooks/{namespace}/{metaapp}", s.deliver)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve answers on l, over TLS with the watcher's certificate when certs is not nil, until
// ctx ends; then it lets requests in flight finish (their bodies are being made durable)
// before returning nil. A server that fails returns its error at once, which stops the
// manager and the receiver with it: running on without answering Meta would only look
// healthy.
func (s *Server) Serve(ctx context.Context, l net.Listener, certs *certwatcher.CertWatcher) error {
	srv := &http.Server{
		Handler:           s,
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
	if certs != nil {
		l = tlsListener(l, certs)
	}
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return fmt.Errorf("webhook server: %w", err)
}

// handshake answers Meta's verification: the challenge when the verify token matches.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request) {
	ns, app := r.PathValue("namespace"), r.PathValue("metaapp")
	q := r.URL.Query()
	creds, err := s.o.Credentials.Credentials(r.Context(), ns, app)
	if err != nil {
		s.refuse(w, err)
		return
	}
	token := []byte(q.Get("hub.verify_token"))
	if q.Get("hub.mode") != "subscribe" || len(creds.VerifyToken) == 0 ||
		subtle.ConstantTimeCompare(token, creds.VerifyToken) != 1 {
		s.count("handshake_refused")
		http.Error(w, "verification refused", http.StatusForbidden)
		return
	}
	s.count("handshake_ok")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

// store appends one verified record to the inbox: the buffer as it is when the inbox keeps
// records that way, or the body after hdr.
func (s *Server) store(ctx context.Context, headered store.HeaderedInbox, buf []byte, hdr int, ns, app string, at time.Time) error {
	if headered != nil {
		_, err := headered.AppendEncoded(ctx, buf)
		return err
	}
	return s.o.Inbox.Append(ctx, &store.Record{Namespace: ns, App: app, ReceivedAt: at, Body: buf[hdr:]})
}

// deliver checks and stores one webhook.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request) {
	start := s.o.Now()
	ns, app := r.PathValue("namespace"), r.PathValue("metaapp")
	if len(ns) > maxNameLen || len(app) > maxNameLen {
		s.refuse(w, ErrUnknownApp) // no Kubernetes object has such a name
		return
	}
	if r.ContentLength > s.o.MaxBodyBytes {
		s.tooLarge(w)
		return
	}
	creds, err := s.o.Credentials.Credentials(r.Context(), ns, app)
	if err != nil {
		s.refuse(w, err)
		return
	}
	// With an inbox that keeps a record as one buffer, its header goes first and the body is
	// read right after it: the buffer is the record, with no copy of the body.
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	headered, _ := s.o.Inbox.(store.HeaderedInbox)
	if headered != nil {
		buf.Write(headered.Header(make([]byte, 0, 64), ns, app, start))
	}
	hdr := buf.Len()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	// The body is hashed while it is read, under each app secret that may have signed it,
	// instead of in a second pass over up to 3 MB.
	macs := make([]hash.Hash, 0, len(creds.AppSecrets))
	writers := make([]io.Writer, 0, len(creds.AppSecrets))
	for _, secret := range creds.AppSecrets {
		if len(secret) > 0 {
			m := webhook.NewMAC(secret)
			macs, writers = append(macs, m), append(writers, m)
		}
	}
	body := io.TeeReader(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes), io.MultiWriter(writers...))
	if _, err := buf.ReadFrom(body); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.tooLarge(w)
			return
		}
		s.count("read_error")
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	size := buf.Len() - hdr
	if !signedByAny(macs, r.Header.Get(webhook.SignatureHeader)) {
		s.count("bad_signature")
		if s.o.Metrics != nil {
			s.o.Metrics.SignatureFailures.Inc()
		}
		http.Error(w, "missing or wrong "+webhook.SignatureHeader, http.StatusUnauthorized)
		return
	}
	if err := s.store(r.Context(), headered, buf.Bytes(), hdr, ns, app, start); err != nil {
		s.count("spool_error")
		s.o.Logger.Error(err, "spooling a webhook failed; Meta will retry it", "metaapp", ns+"/"+app)
		http.Error(w, "cannot store the webhook now", http.StatusServiceUnavailable)
		return
	}
	s.count("accepted")
	if m := s.o.Metrics; m != nil {
		m.Bytes.Add(float64(size))
		m.AckDuration.Observe(s.o.Now().Sub(start).Seconds())
	}
	w.Header().Set("Content-Length", strconv.Itoa(2))
	_, _ = io.WriteString(w, "ok")
}

func signedByAny(macs []hash.Hash, header string) bool {
	for _, m := range macs {
		if webhook.VerifySum(m.Sum(nil), header) {
			return true
		}
	}
	return false
}

func (s *Server) refuse(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnknownApp):
		s.count("unknown_app")
		http.Error(w, "no such MetaApp", http.StatusNotFound)
	default:
		// Meta retries: the Secret may be created a moment later.
		s.count("no_secret")
		s.o.Logger.Info("cannot check a webhook: credentials unavailable", "reason", err.Error())
		http.Error(w, "credentials unavailable", http.StatusServiceUnavailable)
	}
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	s.count("too_large")
	http.Error(w, "body exceeds "+strconv.FormatInt(s.o.MaxBodyBytes, 10)+" bytes", http.StatusRequestEntityTooLarge)
}

func (s *Server) count(result string) {
	if s.o.Metrics != nil {
		s.o.Metrics.Requests.WithLabelValues(result).Inc()
	}
}
