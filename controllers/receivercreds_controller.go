// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/receivercreds"
)

// relaySecretIndex indexes CoexNumbers by the Secret their own relay signs with.
const relaySecretIndex = "spec.relay.secretRef.name"

// DefaultRotationGrace is how long a replaced app secret stays in the receiver's credentials:
// Meta keeps retrying deliveries it signed with the old one.
const DefaultRotationGrace = 15 * time.Minute

// ReceiverCredentialsReconciler keeps the receiver's credentials Secret (package
// receivercreds) equal to the tenant Secret keys the receiver needs: the app secrets, verify
// tokens and relay keys every MetaApp and CoexNumber names, and an app secret's previous value
// for Grace after it changed. It runs on the leader; every replica's receiver reads the result.
type ReceiverCredentialsReconciler struct {
	Options
	// Namespace and Name of the projection Secret (the operator's namespace).
	Namespace, Name string
	// Grace keeps a replaced app secret (default DefaultRotationGrace).
	Grace time.Duration

	// read remembers each tenant Secret's data with the resourceVersion it was read at, so a
	// rebuild reads again only the Secrets that changed (their versions come from the
	// metadata cache). Only the leader's single worker touches it.
	read map[client.ObjectKey]readSecret
}

type readSecret struct {
	version string
	data    map[string][]byte
}

// SetupWithManager wakes the one request on any MetaApp or CoexNumber spec change and on any
// change to a Secret they name (watched as metadata only) or to the projection itself.
func (r *ReceiverCredentialsReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1.CoexNumber{}, relaySecretIndex, func(o client.Object) []string {
		if rl := o.(*v1.CoexNumber).Spec.Relay; rl != nil {
			return []string{rl.SecretRef.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	one := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request { return r.request() })
	return ctrl.NewControllerManagedBy(mgr).
		Named("receivercredentials").
		// Once at start, so the Secret exists (and receivers become ready) before any MetaApp.
		WatchesRawSource(source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			q.Add(r.request()[0])
			return nil
		})).
		Watches(&v1.MetaApp{}, one, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1.CoexNumber{}, one, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.ofSecret), builder.OnlyMetadata).
		Complete(r)
}

func (r *ReceiverCredentialsReconciler) request() []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: r.Namespace, Name: r.Name}}}
}

// ofSecret wakes the projection for the projection itself and for a Secret some MetaApp or
// CoexNumber of its namespace names; other Secrets (tokens, Helm releases) do not wake it.
func (r *ReceiverCredentialsReconciler) ofSecret(ctx context.Context, o client.Object) []reconcile.Request {
	if o.GetNamespace() == r.Namespace && o.GetName() == r.Name {
		return r.request()
	}
	var apps v1.MetaAppList
	if err := r.Client.List(ctx, &apps, client.InNamespace(o.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "cannot list MetaApps")
		return r.request()
	}
	for _, a := range apps.Items {
		if a.Spec.AppSecretRef.Name == o.GetName() || a.Spec.VerifyTokenRef.Name == o.GetName() ||
			(a.Spec.Relay != nil && a.Spec.Relay.SecretRef.Name == o.GetName()) {
			return r.request()
		}
	}
	var nums v1.CoexNumberList
	if err := r.Client.List(ctx, &nums, client.InNamespace(o.GetNamespace()), client.MatchingFields{relaySecretIndex: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "cannot list CoexNumbers")
		return r.request()
	}
	if len(nums.Items) > 0 {
		return r.request()
	}
	return nil
}

// Reconcile builds the projection and writes it when it differs.
func (r *ReceiverCredentialsReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var apps v1.MetaAppList
	if err := r.Client.List(ctx, &apps); err != nil {
		return ctrl.Result{}, err
	}
	var nums v1.CoexNumberList
	if err := r.Client.List(ctx, &nums); err != nil {
		return ctrl.Result{}, err
	}
	refs, appSecret := receivercreds.Needed(apps.Items, nums.Items)
	used := map[client.ObjectKey]bool{}
	data, err := receivercreds.Build(refs, r.readSecret(ctx, used))
	if err != nil {
		return ctrl.Result{}, err
	}
	maps.DeleteFunc(r.read, func(k client.ObjectKey, _ readSecret) bool { return !used[k] })

	cur := &corev1.Secret{}
	err = r.secretReader().Get(ctx, req.NamespacedName, cur)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	exists := err == nil
	now := r.now()
	grace := r.Grace
	if grace <= 0 {
		grace = DefaultRotationGrace
	}
	until := receivercreds.Retain(cur.Data, data, appSecret, receivercreds.ParseUntil(cur.Annotations), now, grace)
	receiverCredentialsBytes.Set(float64(receivercreds.Size(data)))
	if size := receivercreds.Size(data); size > receivercreds.MaxBytes {
		return ctrl.Result{}, fmt.Errorf("the receiver's credentials take %d bytes, over the %d a Secret holds; "+
			"MetaApps and CoexNumbers sharing Secrets keep it small", size, receivercreds.MaxBytes)
	}

	want := receivercreds.FormatUntil(until)
	if exists && maps.EqualFunc(cur.Data, data, func(a, b []byte) bool { return string(a) == string(b) }) &&
		cur.Annotations[receivercreds.AnnotationPreviousUntil] == want {
		return r.requeueForExpiry(until, now), nil
	}
	next := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: req.Name,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "coex-operator", "app.kubernetes.io/component": "receiver-credentials"}},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	if want != "" {
		next.Annotations = map[string]string{receivercreds.AnnotationPreviousUntil: want}
	}
	if exists {
		next.ResourceVersion = cur.ResourceVersion
		err = r.Client.Update(ctx, next)
	} else {
		err = r.Client.Create(ctx, next)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	log.FromContext(ctx).Info("receiver credentials written", "keys", len(data), "retainedPrevious", len(until))
	return r.requeueForExpiry(until, now), nil
}

// readSecret reads a tenant Secret past the cache (which holds Secrets' metadata only), unless
// the version the metadata cache has is the one read last time.
// used collects the Secrets read, so that the others are forgotten.
func (r *ReceiverCredentialsReconciler) readSecret(ctx context.Context, used map[client.ObjectKey]bool) receivercreds.SecretData {
	if r.read == nil {
		r.read = map[client.ObjectKey]readSecret{}
	}
	return func(ns, name string) (map[string][]byte, bool, error) {
		key := client.ObjectKey{Namespace: ns, Name: name}
		used[key] = true
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := r.Client.Get(ctx, key, meta); err == nil {
			if prev, ok := r.read[key]; ok && prev.version == meta.ResourceVersion {
				return prev.data, true, nil
			}
		}
		s := &corev1.Secret{}
		if err := r.secretReader().Get(ctx, key, s); err != nil {
			delete(r.read, key)
			if apierrors.IsNotFound(err) {
				return nil, false, nil
			}
			return nil, false, err
		}
		r.read[key] = readSecret{version: s.ResourceVersion, data: s.Data}
		return s.Data, true, nil
	}
}

// requeueForExpiry comes back when the first retained previous secret is due to go.
func (r *ReceiverCredentialsReconciler) requeueForExpiry(until map[string]time.Time, now time.Time) ctrl.Result {
	var first time.Time
	for _, t := range until {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	if first.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(first.Sub(now), 0) + time.Second}
}

func (r *ReceiverCredentialsReconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock.Now()
	}
	return time.Now()
}
