#!/usr/bin/env bash
# `make demo`: a local control plane (kube-apiserver and etcd built from source), the CRDs, the
# manager and the samples, shown the way a platform engineer would look at them with kubectl.
# Everything it starts is stopped when it ends or is interrupted.
#
#   DEMO_KEEP=1 make demo    keep the cluster and manager running until Ctrl-C, to explore
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BIN=${BIN:-$root/bin}
KUBECTL=${KUBECTL:-$BIN/k8s/kubectl}
PROBE_ADDR=${PROBE_ADDR:-127.0.0.1:18081}
METRICS_ADDR=${METRICS_ADDR:-127.0.0.1:18082}

work=$(mktemp -d -t coex-demo.XXXXXX)
export KUBECONFIG=$work/kubeconfig
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: stopping what the demo started"; exit 130' INT TERM

if [[ -t 1 ]]; then bold=$'\033[1m' dim=$'\033[2m' off=$'\033[0m'; else bold='' dim='' off=''; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
show() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@"; }
kubectl() { "$KUBECTL" "$@"; }

# wait_for DESCRIPTION LOG PID COMMAND...: polls COMMAND for up to 60 s while PID lives.
wait_for() {
  local what=$1 log=$2 pid=$3; shift 3
  local i
  for i in $(seq 1 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$what exited; its log:" >&2; cat "$log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "$what was not up after 60 s; its log:" >&2; cat "$log" >&2; return 1
}

step "Starting a local control plane: kube-apiserver $("$BIN/k8s/kube-apiserver" --version | cut -d' ' -f2) and etcd, built from source"
"$BIN/localcluster" --write-kubeconfig "$KUBECONFIG" >"$work/localcluster.log" 2>&1 &
pids+=($!)
wait_for "the control plane" "$work/localcluster.log" "${pids[-1]}" test -s "$KUBECONFIG"
show kubectl version

step "Installing the CRDs"
show kubectl apply -f config/crd/bases
show kubectl wait --for=condition=Established --timeout=60s \
  crd/coexnumbers.whatsapp.coex.dev crd/metaapps.whatsapp.coex.dev

step "Starting the manager (probes on $PROBE_ADDR, metrics on $METRICS_ADDR)"
"$BIN/manager" --health-probe-bind-address="$PROBE_ADDR" --metrics-bind-address="$METRICS_ADDR" \
  >"$work/manager.log" 2>&1 &
pids+=($!)
wait_for "the manager" "$work/manager.log" "${pids[-1]}" curl -fsS "http://$PROBE_ADDR/readyz"
show curl -sS "http://$PROBE_ADDR/readyz?verbose"

step "Applying the samples: a MetaApp, a CoexNumber and their Secrets"
show kubectl apply -f config/samples/

step "What a platform engineer sees"
show kubectl get coexnumbers,metaapps
show kubectl get whatsapp -o wide
show kubectl explain coexnumber.spec.wabaID

step "A typo in a phone number is refused by the API server itself"
bad='{"apiVersion":"whatsapp.coex.dev/v1alpha1","kind":"CoexNumber","metadata":{"name":"typo"},
"spec":{"appRef":{"name":"acme"},"wabaID":"102290129340398","phoneNumberID":"106540352242923",
"displayPhoneNumber":"+1 415-555-0199","tokenSecretRef":{"name":"acme-support-number","key":"token"}}}'
printf '%s$ kubectl apply -f typo.yaml%s\n' "$dim" "$off"
if echo "$bad" | kubectl apply -f - 2>&1; then
  echo "unexpected: the invalid CoexNumber was accepted" >&2
  exit 1
fi

step "Done"
cat <<EOF
The control plane, the CRDs and the manager work. The reconcilers and the webhook receiver
arrive next, and will fill Phase, Ready, History% and Deadline.
EOF

if [[ ${DEMO_KEEP:-} == 1 ]]; then
  cat <<EOF

The cluster stays up until Ctrl-C. In another shell:
  export KUBECONFIG=$KUBECONFIG
  $KUBECTL get coexnumbers -o wide
EOF
  wait "${pids[0]}"
fi
