// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// secretNamesIndex indexes MetaApps by the names of the Secrets they read (the app secret and
// the verify token), to find the MetaApps of a changed Secret.
const secretNamesIndex = "spec.secretNames"

// appWebhookObject is the webhook object coexistence fields belong to.
const appWebhookObject = "whatsapp_business_account"

// Reasons of a MetaApp's conditions. GraphUnavailable, GraphError and CredentialsRejected
// are shared with CoexNumbers (coexstatus).
const (
	appReasonResolved             = "Resolved"
	appReasonSecretMissing        = "SecretMissing"
	appReasonAllFieldsSubscribed  = "AllFieldsSubscribed"
	appReasonFieldsMissing        = "FieldsMissing"
	appReasonCallbackURLMismatch  = "CallbackURLMismatch"
	appReasonSubscriptionInactive = "SubscriptionInactive"
	appReasonReady                = "Ready"
	appReasonChecking             = "Checking"
	appEventFieldsSubscribed      = "FieldsSubscribed"
)

// appStalledReasons need a human: no retry can fix them.
var appStalledReasons = map[string]bool{
	appReasonSecretMissing:               true,
	coexstatus.ReasonCredentialsRejected: true,
}

// appCheckedReasons are the FieldsSubscribed reasons of a check that reached Meta. Any other
// reason is a failed check, retried on the requeue it asked for.
var appCheckedReasons = map[string]bool{
	appReasonAllFieldsSubscribed:  true,
	appReasonFieldsMissing:        true,
	appReasonCallbackURLMismatch:  true,
	appReasonSubscriptionInactive: true,
}

// MetaAppReconciler checks a MetaApp's credentials and webhook field subscriptions, and with
// spec.manageSubscriptions subscribes the app to the fields it lacks.
type MetaAppReconciler struct {
	Options

	mu sync.Mutex
	// checkedWith is, per MetaApp, a one-way hash of the credentials and the force annotation
	// of its last successful check. A different hash means the Secrets were rotated or a
	// re-check was requested, so Meta is asked now instead of at the next period. It lives in
	// memory only (a restart re-checks every app once) and holds no secret value.
	checkedWith map[types.NamespacedName]string
}

// SetupWithManager registers the reconciler: MetaApps (spec and annotation changes only, not
// its own status writes) and the Secrets they read, so that a rotated Secret is used at once.
func (r *MetaAppReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1.MetaApp{}, secretNamesIndex, metaAppSecretNames); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.MetaApp{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.appsOfSecret), builder.OnlyMetadata).
		Named("metaapp").
		Complete(r)
}

// metaAppSecretNames is the secretNamesIndex extractor.
func metaAppSecretNames(o client.Object) []string {
	app := o.(*v1.MetaApp)
	names := []string{app.Spec.AppSecretRef.Name}
	if n := app.Spec.VerifyTokenRef.Name; n != app.Spec.AppSecretRef.Name {
		names = append(names, n)
	}
	return names
}

// appsOfSecret maps a Secret to the MetaApps of its namespace that read it.
func (r *MetaAppReconciler) appsOfSecret(ctx context.Context, o client.Object) []ctrl.Request {
	var list v1.MetaAppList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretNamesIndex: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "cannot list the MetaApps of a Secret", "secret", o.GetName())
		return nil
	}
	reqs := make([]ctrl.Request, len(list.Items))
	for i := range list.Items {
		reqs[i] = ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
	}
	return reqs
}

// appCreds are a MetaApp's resolved Secrets.
type appCreds struct {
	app         graph.App
	verifyToken graph.Secret
}

// appState is one reconciliation's view of a MetaApp.
type appState struct {
	app     *v1.MetaApp
	orig    *v1.MetaApp // the status as last written, for the optimistic-lock patch
	now     time.Time
	period  time.Duration
	requeue time.Duration
}

// Reconcile resolves the credentials, checks the webhook fields when due, and writes the
// status when it changed.
func (r *MetaAppReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	opts := r.Options.withDefaults() // tests build the reconciler without Setup
	app := &v1.MetaApp{}
	if err := r.Client.Get(ctx, req.NamespacedName, app); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if app.Annotations[AnnotationPaused] == "true" {
		log.FromContext(ctx).V(1).Info("paused")
		return ctrl.Result{}, nil
	}
	st := &appState{app: app, orig: app.DeepCopy(), now: opts.Clock.Now(), period: jittered(opts.SubscriptionRecheck, app.UID)}

	creds, err := r.credentials(ctx, st)
	if creds != nil {
		r.checkFields(ctx, st, creds)
	}
	if werr := r.writeStatus(ctx, st); werr != nil {
		return ctrl.Result{}, werr
	}
	return ctrl.Result{RequeueAfter: st.requeue}, err
}

// credentials reads the app secret and the verify token, on every reconcile: nothing is
// cached, so a rotated Secret is used at once. A missing Secret or key stalls the app (the
// Secret watch brings it back) and returns nil; any other error is returned for a retry.
func (r *MetaAppReconciler) credentials(ctx context.Context, st *appState) (*appCreds, error) {
	app := st.app
	ga, err := appCredentials(ctx, r.Options.secretReader(), app)
	var verifyToken graph.Secret
	if err == nil {
		verifyToken, err = readSecretKey(ctx, r.Options.secretReader(), app.Namespace, app.Spec.VerifyTokenRef)
	}
	var se *secretError
	if errors.As(err, &se) {
		r.condition(st, v1.ConditionCredentialsResolved, metav1.ConditionFalse, appReasonSecretMissing,
			se.msg+"; create it, or fix appSecretRef or verifyTokenRef (a change to the Secret is picked up at once)")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.condition(st, v1.ConditionCredentialsResolved, metav1.ConditionTrue, appReasonResolved,
		fmt.Sprintf("app secret from Secret %q key %q, verify token from Secret %q key %q",
			app.Spec.AppSecretRef.Name, app.Spec.AppSecretRef.Key, app.Spec.VerifyTokenRef.Name, app.Spec.VerifyTokenRef.Key))
	return &appCreds{app: ga, verifyToken: verifyToken}, nil
}

// checkFields owns FieldsSubscribed and the subscription fields of the status: it reads the
// app's webhook subscription from Meta when due, and with manageSubscriptions subscribes the
// app to what is missing.
func (r *MetaAppReconciler) checkFields(ctx context.Context, st *appState, creds *appCreds) {
	app := st.app
	key := client.ObjectKeyFromObject(app)
	fingerprint := checkFingerprint(creds.app.Secret, creds.verifyToken, app.Annotations[AnnotationReconcileRequestedAt])
	if due := r.nextCheck(st, fingerprint); due.After(st.now) {
		st.requeueAfter(due.Sub(st.now))
		return
	}

	g := r.Graph.For(app)
	subs, err := g.GetAppSubscriptions(ctx, creds.app)
	if err != nil {
		r.graphFailed(st, "cannot read the app's webhook subscriptions", err)
		return
	}
	var sub graph.AppSubscription // the zero value when the app has none for the object
	for _, s := range subs {
		if s.Object == appWebhookObject {
			sub = s
			break
		}
	}
	required := app.Spec.RequiredFields
	if len(required) == 0 {
		required = v1.CoexistenceWebhookFields
	}
	missing := missingFields(required, sub.Fields)
	mismatch := app.Spec.CallbackURL != "" && app.Spec.CallbackURL != sub.CallbackURL
	inactive := sub.Object != "" && !sub.Active

	// What Meta reported is recorded even if subscribing fails below, so that missingFields
	// says what the failing call was for.
	checked := metav1.NewTime(st.now)
	app.Status.LastCheckedAt = &checked
	recordSubscription(app, sub, missing)

	if app.Spec.ManageSubscriptions && app.Spec.CallbackURL != "" && (len(missing) > 0 || mismatch || inactive) {
		fields := fieldUnion(required, sub.Fields)
		err := g.SetAppSubscription(ctx, creds.app, graph.AppSubscriptionRequest{
			Object: appWebhookObject, CallbackURL: app.Spec.CallbackURL, VerifyToken: creds.verifyToken, Fields: fields,
		})
		if err != nil {
			r.graphFailed(st, "cannot subscribe the app to its webhook fields", err)
			return
		}
		// Meta answered success: record what it now holds rather than read it back; the next
		// periodic check reads it anyway.
		log.FromContext(ctx).Info("subscribed the app to its webhook fields", "fields", fields, "callbackURL", app.Spec.CallbackURL)
		r.event(app, corev1.EventTypeNormal, appEventFieldsSubscribed, "SetAppSubscription",
			fmt.Sprintf("subscribed the app's %s webhooks at %s to %s", appWebhookObject, app.Spec.CallbackURL, strings.Join(fields, ", ")))
		sub = graph.AppSubscription{Object: appWebhookObject, CallbackURL: app.Spec.CallbackURL, Active: true, Fields: fields}
		missing, mismatch, inactive = nil, false, false
		recordSubscription(app, sub, missing)
	}

	reason, message := fieldsVerdict(app, sub, missing, mismatch, inactive)
	status := metav1.ConditionFalse
	if reason == appReasonAllFieldsSubscribed {
		status = metav1.ConditionTrue
	}
	r.condition(st, v1.ConditionFieldsSubscribed, status, reason, message)
	r.remember(key, fingerprint)
	st.requeueAfter(st.period)
}

// recordSubscription writes what Meta holds into the status.
func recordSubscription(app *v1.MetaApp, sub graph.AppSubscription, missing []string) {
	app.Status.SubscribedFields = sortedFields(sub.Fields)
	app.Status.MissingFields = missing
	app.Status.SubscribedCallbackURL = sub.CallbackURL
}

// fieldsVerdict words the FieldsSubscribed condition of a check that reached Meta.
func fieldsVerdict(app *v1.MetaApp, sub graph.AppSubscription, missing []string, mismatch, inactive bool) (string, string) {
	var problems []string
	if sub.Object == "" {
		problems = append(problems, "the app has no "+appWebhookObject+" webhook subscription")
	}
	if len(missing) > 0 {
		problems = append(problems, "missing webhook fields: "+strings.Join(missing, ", "))
	}
	if mismatch {
		got := sub.CallbackURL
		if got == "" {
			got = "none"
		}
		problems = append(problems, fmt.Sprintf("Meta's callback URL is %s, not spec.callbackURL %s", got, app.Spec.CallbackURL))
	}
	if inactive {
		problems = append(problems, "the subscription is inactive")
	}
	if len(problems) == 0 {
		return appReasonAllFieldsSubscribed, "subscribed to " + strings.Join(sortedFields(sub.Fields), ", ") + " at " + sub.CallbackURL
	}
	msg := strings.Join(problems, "; ")
	if !app.Spec.ManageSubscriptions {
		msg += "; subscribe them in the App Dashboard (Webhooks), or set manageSubscriptions"
	}
	switch {
	case len(missing) > 0:
		return appReasonFieldsMissing, msg
	case mismatch:
		return appReasonCallbackURLMismatch, msg
	default:
		return appReasonSubscriptionInactive, msg
	}
}

// nextCheck returns when Meta is next to be asked: now when the spec, the credentials or the
// force annotation changed or the last check failed, else a period after the last check.
func (r *MetaAppReconciler) nextCheck(st *appState, fingerprint string) time.Time {
	app := st.app
	c := meta.FindStatusCondition(app.Status.Conditions, v1.ConditionFieldsSubscribed)
	r.mu.Lock()
	same := r.checkedWith[client.ObjectKeyFromObject(app)] == fingerprint
	r.mu.Unlock()
	if !same || c == nil || c.ObservedGeneration != app.Generation || !appCheckedReasons[c.Reason] || app.Status.LastCheckedAt == nil {
		return st.now
	}
	return app.Status.LastCheckedAt.Add(st.period)
}

func (r *MetaAppReconciler) remember(key types.NamespacedName, fingerprint string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checkedWith == nil {
		r.checkedWith = map[types.NamespacedName]string{}
	}
	r.checkedWith[key] = fingerprint
}

func (r *MetaAppReconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.checkedWith, key)
}

// checkFingerprint is a one-way hash of what a check depends on besides the spec.
func checkFingerprint(appSecret, verifyToken graph.Secret, requestedAt string) string {
	h := sha256.New()
	for _, s := range []string{appSecret.Reveal(), verifyToken.Reveal(), requestedAt} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// graphFailed turns a failed Graph call into FieldsSubscribed and a retry: auth errors need
// a human (stalled); transient ones are retried soon, others later.
func (r *MetaAppReconciler) graphFailed(st *appState, doing string, err error) {
	msg := fmt.Sprintf("%s: %v", doing, err)
	switch {
	case graph.IsAuth(err):
		r.condition(st, v1.ConditionFieldsSubscribed, metav1.ConditionFalse, coexstatus.ReasonCredentialsRejected,
			msg+"; fix the app secret (a change to the Secret is picked up at once)")
	case graph.IsTransient(err):
		r.condition(st, v1.ConditionFieldsSubscribed, metav1.ConditionFalse, coexstatus.ReasonGraphUnavailable, msg)
		st.requeueAfter(retryTransient)
	default:
		r.condition(st, v1.ConditionFieldsSubscribed, metav1.ConditionFalse, coexstatus.ReasonGraphError, msg)
		st.requeueAfter(retryPermanent)
	}
}

// summarizeMetaApp sets observedGeneration and the kstatus conditions from CredentialsResolved and
// FieldsSubscribed: Ready when both are True; otherwise the first that is not decides the
// reason, and whether the app is Stalled (a human must act) or Reconciling.
func summarizeMetaApp(app *v1.MetaApp) {
	app.Status.ObservedGeneration = app.Generation
	set := func(typ string, status metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: app.Generation,
		})
	}
	var blocking *metav1.Condition
	for _, typ := range []string{v1.ConditionCredentialsResolved, v1.ConditionFieldsSubscribed} {
		c := meta.FindStatusCondition(app.Status.Conditions, typ)
		if c == nil {
			blocking = &metav1.Condition{Reason: appReasonChecking, Message: "not yet checked"}
			break
		}
		if c.Status != metav1.ConditionTrue {
			blocking = c.DeepCopy()
			break
		}
	}
	switch {
	case blocking == nil:
		set(v1.ConditionReady, metav1.ConditionTrue, appReasonReady, "credentials resolved and every required webhook field subscribed")
		meta.RemoveStatusCondition(&app.Status.Conditions, v1.ConditionReconciling)
		meta.RemoveStatusCondition(&app.Status.Conditions, v1.ConditionStalled)
	case appStalledReasons[blocking.Reason]:
		set(v1.ConditionReady, metav1.ConditionFalse, blocking.Reason, blocking.Message)
		set(v1.ConditionStalled, metav1.ConditionTrue, blocking.Reason, blocking.Message)
		meta.RemoveStatusCondition(&app.Status.Conditions, v1.ConditionReconciling)
	default:
		set(v1.ConditionReady, metav1.ConditionFalse, blocking.Reason, blocking.Message)
		set(v1.ConditionReconciling, metav1.ConditionTrue, blocking.Reason, blocking.Message)
		meta.RemoveStatusCondition(&app.Status.Conditions, v1.ConditionStalled)
	}
}

// writeStatus summarizes and patches the status if it changed, with optimistic locking: a
// status computed from a stale object is refused (409) and the app is reconciled again.
func (r *MetaAppReconciler) writeStatus(ctx context.Context, st *appState) error {
	summarizeMetaApp(st.app)
	if equality.Semantic.DeepEqual(st.orig.Status, st.app.Status) {
		return nil
	}
	if err := patchStatus(ctx, r.Client, st.app, st.orig); err != nil {
		return err
	}
	st.orig = st.app.DeepCopy()
	return nil
}

// condition sets a condition and records an Event when its status or reason changes: a
// Warning for a failure, Normal otherwise. Messages never hold a secret value.
func (r *MetaAppReconciler) condition(st *appState, typ string, status metav1.ConditionStatus, reason, message string) {
	prev := meta.FindStatusCondition(st.app.Status.Conditions, typ)
	transition := prev == nil || prev.Status != status || prev.Reason != reason
	meta.SetStatusCondition(&st.app.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: st.app.Generation,
	})
	if !transition {
		return
	}
	eventType := corev1.EventTypeNormal
	if status == metav1.ConditionFalse {
		eventType = corev1.EventTypeWarning
	}
	r.event(st.app, eventType, reason, typ, message)
}

func (r *MetaAppReconciler) event(app *v1.MetaApp, eventType, reason, action, note string) {
	if r.Events != nil {
		r.Events.Eventf(app, nil, eventType, reason, action, "%s", note)
	}
}

// requeueAfter asks for the app to be looked at again within d.
func (st *appState) requeueAfter(d time.Duration) {
	if d > 0 && (st.requeue == 0 || d < st.requeue) {
		st.requeue = d
	}
}

// missingFields returns the required fields not in subscribed, sorted; nil when none.
func missingFields(required, subscribed []string) []string {
	var missing []string
	for _, f := range sortedFields(required) {
		if !slices.Contains(subscribed, f) {
			missing = append(missing, f)
		}
	}
	return missing
}

// fieldUnion returns the fields of a and b, sorted and without duplicates.
func fieldUnion(a, b []string) []string { return sortedFields(append(slices.Clone(a), b...)) }

// sortedFields returns fields sorted and without duplicates; nil when empty, so that an empty
// list is omitted from the status.
func sortedFields(fields []string) []string {
	if len(fields) == 0 {
		return nil
	}
	out := slices.Clone(fields)
	slices.Sort(out)
	return slices.Compact(out)
}
