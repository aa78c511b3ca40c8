// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receivertest

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
)

// CoexNumber is a CoexNumber whose status the reconcilers have already filled: none of it
// may leak into the receiver's apply. Its UID is "uid-<name>".
func CoexNumber(ns, name string) *v1.CoexNumber {
	onboarded := metav1.NewTime(OnboardedAt)
	return &v1.CoexNumber{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 7, UID: types.UID("uid-" + name)},
		Spec: v1.CoexNumberSpec{WABAID: WABA, PhoneNumberID: PhoneID, DisplayPhoneNumber: "+" + Display,
			OnboardedAt: &onboarded},
		Status: v1.CoexNumberStatus{
			ObservedGeneration: 6,
			Phase:              v1.CoexNumberPhase("Active"),
			History: &v1.HistorySyncStatus{SyncRequestRecord: v1.SyncRequestRecord{
				IntentAt: onboarded.DeepCopy(), RequestID: "req-history"}},
			Contacts: &v1.ContactsSyncStatus{SyncRequestRecord: v1.SyncRequestRecord{RequestID: "req-contacts"}},
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Active"},
				{Type: v1.ConditionHistorySyncRequested, Status: metav1.ConditionTrue, Reason: "Requested"},
			},
		},
	}
}

// ObjectReader is a client.Reader over fixed objects (MetaApps, Secrets, CoexNumbers).
type ObjectReader struct {
	client.Reader
	mu   sync.Mutex
	Objs map[string]client.Object // by ObjKey
	Err  error                    // returned by every Get when set
}

// ObjKey is the key of an object of obj's type named nn in ObjectReader.Objs:
// "<type>/<namespace>/<name>".
func ObjKey(obj client.Object, nn types.NamespacedName) string {
	return fmt.Sprintf("%T/%s/%s", obj, nn.Namespace, nn.Name)
}

// NewObjectReader returns a reader of objs.
func NewObjectReader(objs ...client.Object) *ObjectReader {
	r := &ObjectReader{Objs: map[string]client.Object{}}
	for _, o := range objs {
		r.Objs[ObjKey(o, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})] = o
	}
	return r
}

// Get implements client.Reader.
func (r *ObjectReader) Get(_ context.Context, nn types.NamespacedName, obj client.Object, _ ...client.GetOption) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return r.Err
	}
	o, ok := r.Objs[ObjKey(obj, nn)]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Resource: fmt.Sprintf("%T", obj)}, nn.Name)
	}
	switch dst := obj.(type) {
	case *v1.MetaApp:
		o.(*v1.MetaApp).DeepCopyInto(dst)
	case *v1.CoexNumber:
		o.(*v1.CoexNumber).DeepCopyInto(dst)
	case *corev1.Secret:
		o.(*corev1.Secret).DeepCopyInto(dst)
	default:
		return fmt.Errorf("ObjectReader cannot get %T", obj)
	}
	return nil
}
