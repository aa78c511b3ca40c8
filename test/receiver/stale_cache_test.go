// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/internal/receiver/project"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
)

// objectAs is a Reader that always returns one object, as an informer cache that has not yet
// seen a delete and a create under the same name would.
type objectAs struct {
	client.Reader
	obj *v1.CoexNumber
}

func (r objectAs) Get(_ context.Context, _ client.ObjectKey, out client.Object, _ ...client.GetOption) error {
	r.obj.DeepCopyInto(out.(*v1.CoexNumber))
	return nil
}

// The status writer reads the number from a cache. When that cache still shows a number that
// was deleted and created again, the counts it holds for the old UID must not land on the new
// object: the apply carries the resourceVersion it was checked against, the real API server
// refuses it, and a read past the cache shows another UID. (A UID in the body is not enough:
// the status subresource ignores it, which this test showed before the writer used the
// resourceVersion.)
func TestStatusOfAReplacedNumberIsRefusedByTheAPIServer(t *testing.T) {
	w := newWorld(t, graphsim.DeliveryOptions{})
	ctx := context.Background()
	info := w.addSuspendedNumber(t, "swap", "2201", "3201")
	old := w.number("swap")
	must(t, w.k8s.Delete(ctx, old))
	waitFor(t, 30*time.Second, "swap to be deleted", func() (bool, string) {
		err := w.k8s.Get(ctx, client.ObjectKeyFromObject(old), &v1.CoexNumber{})
		return client.IgnoreNotFound(err) == nil && err != nil, fmt.Sprint(err)
	})
	w.createSuspended(t, "swap", info)
	current := w.number("swap")
	if current.UID == old.UID {
		t.Fatal("the recreated number has its predecessor's UID")
	}

	stream := w.ns + "/swap"
	for _, tc := range []struct {
		name   string
		seen   *v1.CoexNumber // what the cache shows
		counts string         // the UID the counts were recorded for
		want   int64          // echoes the object then shows
	}{
		{"a stale cache: the predecessor's counts", old, string(old.UID), 0},
		{"a fresh cache: the number's own counts", current, string(current.UID), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := bolt.Open(t.TempDir())
			must(t, err)
			defer func() { _ = st.Close() }()
			must(t, store.Put(ctx, st, func(tx store.Tx) error {
				c, err := tx.Number(stream, "")
				at := time.Now().UTC().Truncate(time.Second)
				c.UID, c.Echoes, c.EchoLastAt = tc.counts, 4, &at
				return err
			}))
			sw := project.NewStatusWriter(project.Options{Client: w.k8s, Reader: objectAs{obj: tc.seen},
				Store: st, Interval: time.Hour, Logger: testr.NewWithOptions(t, testr.Options{Verbosity: 1})})
			sw.Mark([]string{stream}, nil)
			sw.Flush(ctx)
			got := w.number("swap")
			var echoes int64
			if got.Status.Echoes != nil {
				echoes = got.Status.Echoes.Count
			}
			if echoes != tc.want {
				t.Errorf("the number (UID %s) shows %d echoes, want %d", got.UID, echoes, tc.want)
			}
		})
	}
}
