// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// conflictRetry is how soon a reconcile refused for a stale object runs again.
const conflictRetry = 500 * time.Millisecond

// finalizer guards a CoexNumber's deletion until what the operator created for it is gone.
const finalizer = "whatsapp.coex.dev/finalizer"

// Field indexes of CoexNumbers: by spec.appRef.name, to find a MetaApp's numbers, and by the
// Secrets they read, so a Secret created or rotated later reconciles its numbers at once.
const (
	appRefIndex     = "spec.appRef.name"
	secretRefsIndex = "spec.secretRefs"
	wabaIndex       = "spec.wabaID"
)

// CoexNumberReconciler drives a number through its steps: the MetaApp, credentials,
// verification, the WABA subscription, the one-shot syncs and the app-activity warning. Each
// step lives in its own file and owns its conditions; this file only runs them in order and
// writes the status once, when it changed.
type CoexNumberReconciler struct {
	Options
}

// numberState is one reconciliation's view of a number, handed from step to step.
type numberState struct {
	n    *v1.CoexNumber
	orig *v1.CoexNumber // the status as last written, for the optimistic-lock patch
	now  time.Time
	// forced is true when the reconcile-requested-at annotation has a value not yet handled:
	// periodic checks run now.
	forced bool

	app   *v1.MetaApp
	graph graph.Client
	token graph.Secret

	requeue time.Duration
	// events wait for the status write that makes them true: a reconcile working from a
	// stale cache, whose write is refused, must not announce transitions that never happened.
	events []pendingEvent
}

type pendingEvent struct{ eventType, reason, action, note string }

// requeueAfter asks for the number to be looked at again within d.
func (st *numberState) requeueAfter(d time.Duration) {
	if d > 0 && (st.requeue == 0 || d < st.requeue) {
		st.requeue = d
	}
}

// step is one concern of the reconciliation. It returns false to stop the steps after it:
// something is missing, terminal, or being waited for.
type step func(ctx context.Context, st *numberState) (bool, error)

// SetupWithManager registers the reconciler: numbers, the Secrets they own (an exchanged
// token), and their MetaApps.
func (r *CoexNumberReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1.CoexNumber{}, appRefIndex,
		func(o client.Object) []string { return []string{o.(*v1.CoexNumber).Spec.AppRef.Name} }); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1.CoexNumber{}, secretRefsIndex, secretNamesOf); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1.CoexNumber{}, wabaIndex,
		func(o client.Object) []string { return []string{o.(*v1.CoexNumber).Spec.WABAID} }); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.CoexNumber{}, builder.WithPredicates(numberTriggers)).
		// Secrets as metadata only: a change wakes the number, which then reads the value.
		Owns(&corev1.Secret{}, builder.OnlyMetadata).
		// A number depends on its MetaApp's existence and spec, not on its status, which
		// the MetaApp reconciler rewrites on every check.
		Watches(&v1.MetaApp{}, handler.EnqueueRequestsFromMapFunc(r.numbersOfApp),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.numbersOfSecret), builder.OnlyMetadata).
		Named("coexnumber").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// numberTriggers: a number is reconciled when its spec or annotations change, or when the
// receiver records what changes the reconcilers' course (Offboarded, HistorySynced, the first
// contacts or history webhooks, which settle a sync request of unknown outcome). Its own
// status writes do not trigger it: it requeues itself after a backoff, and a write that
// retriggered it would turn a failing Graph call into a tight loop against Meta (Graph's
// error messages differ on every call, so the status always changes). Other receiver counters
// (echoes, contacts) are read at the next reconcile.
var numberTriggers = predicate.Or[client.Object](
	predicate.GenerationChangedPredicate{},
	predicate.AnnotationChangedPredicate{},
	predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, cur := e.ObjectOld.(*v1.CoexNumber), e.ObjectNew.(*v1.CoexNumber)
		for _, typ := range []string{v1.ConditionOffboarded, v1.ConditionHistorySynced} {
			if conditionStatus(old, typ) != conditionStatus(cur, typ) {
				return true
			}
		}
		// The first contacts or history webhooks: they settle a sync whose outcome is unknown.
		for _, s := range oneShots {
			if (s.evidence(old) == "") != (s.evidence(cur) == "") {
				return true
			}
		}
		return false
	}},
)

func conditionStatus(n *v1.CoexNumber, typ string) metav1.ConditionStatus {
	if c := meta.FindStatusCondition(n.Status.Conditions, typ); c != nil {
		return c.Status
	}
	return ""
}

// numbersOfApp maps a MetaApp to the numbers that use it.
func (r *CoexNumberReconciler) numbersOfApp(ctx context.Context, o client.Object) []ctrl.Request {
	return r.numbersBy(ctx, o, appRefIndex)
}

// numbersOfSecret maps a Secret to the numbers that read it.
func (r *CoexNumberReconciler) numbersOfSecret(ctx context.Context, o client.Object) []ctrl.Request {
	return r.numbersBy(ctx, o, secretRefsIndex)
}

func secretNamesOf(o client.Object) []string {
	n := o.(*v1.CoexNumber)
	var names []string
	for _, ref := range []*v1.SecretKeySelector{n.Spec.TokenSecretRef, n.Spec.SignupCodeSecretRef} {
		if ref != nil {
			names = append(names, ref.Name)
		}
	}
	return names
}

func (r *CoexNumberReconciler) numbersBy(ctx context.Context, o client.Object, index string) []ctrl.Request {
	var list v1.CoexNumberList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]ctrl.Request, len(list.Items))
	for i := range list.Items {
		reqs[i] = ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
	}
	return reqs
}

// Reconcile runs the steps and writes the status.
func (r *CoexNumberReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	n := &v1.CoexNumber{}
	if err := r.Client.Get(ctx, req.NamespacedName, n); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Deletion first: a paused number can still be deleted (its finalizer must not hang).
	if !n.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, n)
	}
	if n.Annotations[AnnotationPaused] == "true" {
		log.FromContext(ctx).V(1).Info("paused")
		return ctrl.Result{}, nil
	}
	if !controllerutil.ContainsFinalizer(n, finalizer) {
		controllerutil.AddFinalizer(n, finalizer)
		if err := r.Client.Update(ctx, n); err != nil {
			return ctrl.Result{}, err
		}
	}

	st := &numberState{n: n, orig: n.DeepCopy(), now: r.Clock.Now()}
	requested := n.Annotations[AnnotationReconcileRequestedAt]
	st.forced = requested != "" && requested != n.Status.LastHandledReconcileAt
	deadline := n.SyncDeadline()
	n.Status.SyncDeadline = &deadline

	var stepErr error
	for _, s := range []step{r.offboarded, r.suspended, r.metaApp, r.credentials, r.verify, r.subscribe, r.sync, r.appActivity} {
		next, err := s(ctx, st)
		if err != nil {
			stepErr = err
			break
		}
		if !next {
			break
		}
	}
	if st.forced && stepErr == nil {
		st.n.Status.LastHandledReconcileAt = requested
	}
	err := r.writeStatus(ctx, st)
	if err == nil {
		err = stepErr
	}
	if apierrors.IsConflict(err) {
		// Someone wrote the number since the cache served it (often this reconciler itself).
		// Expected, not an error: look again once the cache has caught up. The newer
		// version's own event may be filtered out (numberTriggers), so requeue explicitly.
		log.FromContext(ctx).V(1).Info("status changed meanwhile; reconciling again", "reason", err.Error())
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	if err != nil {
		// controller-runtime requeues with its own backoff; a RequeueAfter beside an error
		// is ignored, so return one or the other.
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: st.requeue}, nil
}

// fence writes the status with optimistic locking even when nothing changed: the patch then
// carries only the resourceVersion, which the API server checks. It fails when the number
// changed since it was read, which is how a reconcile working from a stale cache learns it
// must not act (see requestOnce).
func (r *CoexNumberReconciler) fence(ctx context.Context, st *numberState) error {
	coexstatus.Summarize(st.n)
	if err := patchStatus(ctx, r.Client, st.n, st.orig); err != nil {
		st.events = nil
		return err
	}
	st.orig = st.n.DeepCopy()
	for _, e := range st.events {
		r.event(st.n, e.eventType, e.reason, e.action, e.note)
	}
	st.events = nil
	return nil
}

// quietReasons are transient states not worth an Event each: at thousands of numbers, Events
// are most of the operator's API writes.
var quietReasons = map[string]bool{coexstatus.ReasonRequesting: true, reasonNoEchoYet: true}

// condition sets a condition and, when it changes, queues an Event for after the status write:
// a Warning for a failure, Normal otherwise.
func (r *CoexNumberReconciler) condition(st *numberState, typ string, status metav1.ConditionStatus, reason, message string) {
	if !coexstatus.Set(st.n, typ, status, reason, message) || quietReasons[reason] {
		return
	}
	eventType := corev1.EventTypeNormal
	if status == metav1.ConditionFalse && reason != coexstatus.ReasonWaiting {
		eventType = corev1.EventTypeWarning
	}
	st.emit(eventType, reason, typ, message)
}

// emit queues an Event for after the next status write, like condition does: an Event
// describes a transition only once the status that records it is written.
func (st *numberState) emit(eventType, reason, action, note string) {
	st.events = append(st.events, pendingEvent{eventType, reason, action, note})
}

func (r *CoexNumberReconciler) event(obj *v1.CoexNumber, eventType, reason, action, note string) {
	if r.Events != nil {
		r.Events.Eventf(obj, nil, eventType, reason, action, "%s", note)
	}
}
