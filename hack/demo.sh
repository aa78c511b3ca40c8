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
SIM_ADDR=127.0.0.1:18080 # the address config/samples' MetaApp points at
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

step "Starting the Meta simulator on $SIM_ADDR with the samples' app, token and number"
"$BIN/graphsim" --listen "$SIM_ADDR" --scenario hack/demo/graphsim.yaml >"$work/graphsim.log" 2>&1 &
pids+=($!)
wait_for "the simulator" "$work/graphsim.log" "${pids[-1]}" curl -fsS "http://$SIM_ADDR/_sim/clock"

step "Starting the manager (probes on $PROBE_ADDR, metrics on $METRICS_ADDR)"
"$BIN/manager" --health-probe-bind-address="$PROBE_ADDR" --metrics-bind-address="$METRICS_ADDR" \
  >"$work/manager.log" 2>&1 &
pids+=($!)
wait_for "the manager" "$work/manager.log" "${pids[-1]}" curl -fsS "http://$PROBE_ADDR/readyz"
show curl -sS "http://$PROBE_ADDR/readyz?verbose"

RECEIVER_ADDR=${RECEIVER_ADDR:-127.0.0.1:18090}
step "Starting the webhook receiver on $RECEIVER_ADDR (the samples' callbackURL)"
"$BIN/receiver" --webhook-bind-address="$RECEIVER_ADDR" --spool-dir="$work/spool" \
  --metrics-bind-address=127.0.0.1:18083 --health-probe-bind-address=127.0.0.1:18084 \
  >"$work/receiver.log" 2>&1 &
pids+=($!)
wait_for "the receiver" "$work/receiver.log" "${pids[-1]}" curl -fsS "http://127.0.0.1:18084/readyz"

step "Applying the samples: a MetaApp, a CoexNumber and their Secrets"
show kubectl apply -f config/samples/

step "A second number, in a country where coexistence is unavailable"
show kubectl apply -f - <<'YAML'
apiVersion: whatsapp.coex.dev/v1alpha1
kind: CoexNumber
metadata: {name: lagos-desk}
spec:
  appRef: {name: acme}
  wabaID: "102290129340398"
  phoneNumberID: "106540352242999"
  displayPhoneNumber: "+2348012345678"
  tokenSecretRef: {name: acme-support-number, key: token}
YAML

step "Watching the numbers: verified, subscribed, both syncs requested once, history received"
synced() {
  [[ $(kubectl get coexnumber acme-support -o 'jsonpath={.status.phase}') == Active ]]
}
for i in $(seq 1 60); do
  synced && break
  sleep 1
done
show kubectl get coexnumbers,metaapps
show kubectl get coexnumbers -o wide
show kubectl get coexnumber acme-support -o 'jsonpath={range .status.conditions[*]}{.type}{"\t"}{.status}{"\t"}{.reason}{"\n"}{end}'
show kubectl get coexnumber acme-support -o 'jsonpath={"history: "}{.status.history.messages}{" messages in "}{.status.history.threads}{" threads, "}{.status.history.chunks}{" chunks; contacts: +"}{.status.contacts.added}{" -"}{.status.contacts.removed}{"\n"}'
printf '%s$ curl %s/_sim/calls?ok=true (what Meta received)%s\n' "$dim" "$SIM_ADDR" "$off"
curl -fsS "http://$SIM_ADDR/_sim/calls?ok=true" | python3 -c 'import json,sys; [print(" ", c["name"], c.get("phone_number_id", c.get("waba_id", ""))) for c in json.load(sys.stdin)["calls"]]' 2>/dev/null ||
  curl -fsS "http://$SIM_ADDR/_sim/calls?ok=true"

step "What a platform engineer sees"
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
acme-support is Active: both one-shot syncs were requested once each, and the webhook receiver
verified, spooled and counted the history and contacts Meta sent, then marked HistorySynced.
lagos-desk is Failed: coexistence is unavailable for +234 numbers, and it made no Graph call.
EOF

if [[ ${DEMO_KEEP:-} == 1 ]]; then
  cat <<EOF

The cluster stays up until Ctrl-C. In another shell:
  export KUBECONFIG=$KUBECONFIG
  $KUBECTL get coexnumbers -o wide
EOF
  wait "${pids[0]}"
fi
