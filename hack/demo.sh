#!/usr/bin/env bash
# `make demo`: a local control plane (kube-apiserver and etcd built from source), the CRDs, the
# Meta simulator, the manager and the webhook receiver, the samples and four more numbers
# (hack/demo/numbers.yaml), shown the way a platform engineer would look at them with kubectl,
# ending with a summary that fails the demo if a number is not where its scenario leads.
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

step "The demo's other numbers: a heavy history, a declined history, one that will disconnect, one in Nigeria"
show kubectl apply -f hack/demo/numbers.yaml

# watch prints `kubectl get coexnumbers` whenever it changes, like -w, until COND holds or
# LIMIT seconds pass.
watch_numbers() {
  local limit=$1; shift
  local last='' now i
  for i in $(seq 1 $((limit * 2))); do
    now=$(kubectl get coexnumbers -o 'custom-columns=NAME:.metadata.name,PHASE:.status.phase,READY:.status.conditions[?(@.type=="Ready")].status,HISTORY%:.status.history.progress,MESSAGES:.status.history.messages,CONTACTS:.status.contacts.added,REASON:.status.conditions[?(@.type=="Ready")].reason' 2>/dev/null)
    if [[ $now != "$last" ]]; then
      printf '%s[%s]%s\n%s\n' "$dim" "$(date +%T)" "$off" "$now"
      last=$now
    fi
    "$@" && return 0
    sleep 0.5
  done
  echo "not there after ${limit}s" >&2
  return 1
}
phase() { kubectl get coexnumber "$1" -o 'jsonpath={.status.phase}' 2>/dev/null; }
settled() {
  [[ $(phase acme-support) == Active && $(phase acme-sales) == Active && $(phase acme-returns) == Active &&
    $(phase acme-legacy) == Active && $(phase lagos-desk) == Failed ]]
}

step "Watching the numbers: verified, subscribed, both syncs requested once, history received"
watch_numbers 180 settled

step "acme-legacy's business disconnects in the WhatsApp Business app: Meta sends PARTNER_REMOVED"
printf '%s$ curl -XPOST %s/_sim/numbers/106540352242950/events -d {"kind":"account_update","event":"PARTNER_REMOVED",...}%s\n' "$dim" "$SIM_ADDR" "$off"
curl -fsS -XPOST "http://$SIM_ADDR/_sim/numbers/106540352242950/events" \
  -d '{"kind":"account_update","event":"PARTNER_REMOVED","reason":"PRIMARY_INACTIVITY","initiated_by":"SYSTEM"}' >/dev/null
offboarded() { [[ $(phase acme-legacy) == Offboarded ]]; }
watch_numbers 60 offboarded
show kubectl get coexnumber acme-legacy -o 'jsonpath={.status.conditions[?(@.type=="Offboarded")].message}{"\n"}'

show kubectl get coexnumber acme-support -o 'jsonpath={range .status.conditions[*]}{.type}{"\t"}{.status}{"\t"}{.reason}{"\n"}{end}'
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

step "Summary"
ok=1
expect() { # name, phase it must be in, what it shows
  local got; got=$(phase "$1")
  local mark=ok; [[ $got == "$2" ]] || { mark=WRONG; ok=0; }
  printf '  %-13s %-11s %-5s %s\n' "$1" "$got" "$mark" "$3"
}
hist() { kubectl get coexnumber "$1" -o 'jsonpath={.status.history.messages}{" messages in "}{.status.history.threads}{" chats"}'; }
# syncs PHONE_NUMBER_ID: the sync requests Meta (the simulator) accepted for the number.
syncs() {
  curl -fsS "http://$SIM_ADDR/_sim/calls?ok=true&phone_number_id=$1" | python3 -c '
import json, sys
calls = [c["name"] for c in json.load(sys.stdin)["calls"]]
print("contacts requested %dx, history %dx" % (calls.count("RequestContactsSync"), calls.count("RequestHistorySync")))'
}
expect acme-support Active "small history: $(hist acme-support), contacts +$(kubectl get coexnumber acme-support -o 'jsonpath={.status.contacts.added}')"
expect acme-sales Active "heavy history: $(hist acme-sales); $(syncs 106540352242930)"
expect acme-returns Active "history declined by the business (2593109): $(kubectl get coexnumber acme-returns -o 'jsonpath={.status.conditions[?(@.type=="HistorySynced")].reason}')"
expect acme-legacy Offboarded "PARTNER_REMOVED: no Graph call until ACCOUNT_RECONNECTED"
expect lagos-desk Failed "+234: coexistence unavailable; $(curl -fsS "http://$SIM_ADDR/_sim/calls?phone_number_id=106540352242999" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])') Graph calls"
for n in 106540352242922 106540352242930 106540352242940 106540352242950; do
  [[ $(syncs $n) == "contacts requested 1x, history 1x" ]] || { echo "number $n: $(syncs $n)" >&2; ok=0; }
done
if ((ok == 0)); then
  echo "a number is not in the phase its scenario implies" >&2
  exit 1
fi

if [[ ${DEMO_KEEP:-} == 1 ]]; then
  cat <<EOF

The cluster stays up until Ctrl-C. In another shell:
  export KUBECONFIG=$KUBECONFIG
  $KUBECTL get coexnumbers -o wide
EOF
  wait "${pids[0]}"
fi
