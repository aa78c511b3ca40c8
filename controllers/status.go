// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// patchStatus writes obj's status as a merge patch from orig carrying orig's resourceVersion,
// which the API server checks: a status computed from a stale object is refused (409) and the
// object is reconciled again, so no other writer's change is lost. With nothing changed, the
// patch holds only the resourceVersion and serves as a fence (see CoexNumberReconciler.fence).
func patchStatus(ctx context.Context, c client.Client, obj, orig client.Object) error {
	if err := c.Status().Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		kind := fmt.Sprintf("%T", obj)
		if apierrors.IsConflict(err) {
			return fmt.Errorf("cannot write the status of %s %s, changed meanwhile (will retry): %w", kind, obj.GetName(), err)
		}
		return fmt.Errorf("cannot write the status of %s %s: %w", kind, obj.GetName(), err)
	}
	return nil
}
