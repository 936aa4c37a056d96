#!/bin/sh
# Vault side of scopegate: policy + Kubernetes auth role. Idempotent and additive: each run binds one more
# namespace to role `scopegate` and keeps the namespaces bound before (`--unbind` removes one). Run it from
# anywhere (a workstation, CI, a pod) with a Vault token allowed to manage auth methods and policies
# (VAULT_ADDR / VAULT_TOKEN as usual).
#
#   ./setup.sh --namespace acme                                     # Vault runs inside the cluster
#   ./setup.sh --namespace globex                                   # ...binds globex too; acme stays bound
#   ./setup.sh --namespace acme --vault-outside-cluster \
#     --kubernetes-host https://k8s.example.com:6443 --kubernetes-ca-cert ca.crt
#   ./setup.sh --namespace acme --unbind                            # acme's pods can no longer log in
#
# Every flag has an environment variable of the same meaning (defaults in brackets):
#   --namespace NS            NAMESPACE            namespace of scopegate's service account [default]
#   --service-account NAME    SERVICE_ACCOUNT      scopegate's service account [scopegate]
#                                                  (deploy/kubernetes/base/serviceaccount.yaml)
#   --audience AUD            AUDIENCE             audience scopegate's projected token carries and the role
#                                                  requires [vault] (the `audience` of the serviceAccountToken
#                                                  volume in the manifests; test/deploy checks they agree)
#   --auth-path PATH          AUTH_PATH            mount path of the Kubernetes auth method [kubernetes]
#                                                  (config: secrets.vault.auth.mountPath)
#   --kv-mount MOUNT          KV_MOUNT             KV v2 mount holding the tenant records [secret] (config: kvMount)
#   --vault-in-cluster        VAULT_IN_CLUSTER=1   Vault runs as pods of this cluster: it reviews logins with its
#                                                  own service-account token and (unless a CA is given) its pod's CA
#   --vault-outside-cluster   VAULT_IN_CLUSTER=0   Vault runs elsewhere: it needs the API server's URL and CA, and
#                                                  reviews each login with the caller's own JWT (scopegate's service
#                                                  account then needs system:auth-delegator, README.md)
#                                                  [outside when a CA file is given, else in-cluster]
#   --kubernetes-host URL     KUBERNETES_HOST      API server URL as seen *from Vault*
#                                                  [https://kubernetes.default.svc:443 in-cluster; required outside]
#   --kubernetes-ca-cert FILE KUBERNETES_CA_CERT   PEM file of the API server's CA [required outside]
#   --token-ttl D / --token-max-ttl D  TOKEN_TTL / TOKEN_MAX_TTL   lifetime of the Vault token scopegate gets at
#                                                  login [1h / 4h]; scopegate renews it and logs in again with a
#                                                  fresh projected JWT when needed
#   (env only)                VAULT_CLI            vault CLI to run [vault]; OpenBao's `bao` takes the same commands
#
# Nothing is read from the environment of the machine the script runs on other than the above: the
# API server address Vault needs is where *Vault* runs, not where this script runs. From a workstation,
# `kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}'` prints the URL, and
# `... jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > ca.crt` the CA.
set -eu

usage() { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
die() { echo "setup.sh: $*" >&2; exit 2; }

VAULT_CLI="${VAULT_CLI:-vault}"
NAMESPACE="${NAMESPACE:-default}"
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-scopegate}"
AUDIENCE="${AUDIENCE:-vault}"
AUTH_PATH="${AUTH_PATH:-kubernetes}"
KV_MOUNT="${KV_MOUNT:-secret}"
TOKEN_TTL="${TOKEN_TTL:-1h}"
TOKEN_MAX_TTL="${TOKEN_MAX_TTL:-4h}"
KUBERNETES_HOST="${KUBERNETES_HOST:-}"
KUBERNETES_CA_CERT="${KUBERNETES_CA_CERT:-}"
VAULT_IN_CLUSTER="${VAULT_IN_CLUSTER:-}"
UNBIND=0

need() { [ "$#" -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    --namespace) need "$@"; NAMESPACE="$2"; shift 2 ;;
    --service-account) need "$@"; SERVICE_ACCOUNT="$2"; shift 2 ;;
    --audience) need "$@"; AUDIENCE="$2"; shift 2 ;;
    --auth-path) need "$@"; AUTH_PATH="$2"; shift 2 ;;
    --kv-mount) need "$@"; KV_MOUNT="$2"; shift 2 ;;
    --kubernetes-host) need "$@"; KUBERNETES_HOST="$2"; shift 2 ;;
    --kubernetes-ca-cert) need "$@"; KUBERNETES_CA_CERT="$2"; shift 2 ;;
    --token-ttl) need "$@"; TOKEN_TTL="$2"; shift 2 ;;
    --token-max-ttl) need "$@"; TOKEN_MAX_TTL="$2"; shift 2 ;;
    --vault-in-cluster) VAULT_IN_CLUSTER=1; shift ;;
    --vault-outside-cluster) VAULT_IN_CLUSTER=0; shift ;;
    --unbind) UNBIND=1; shift ;;
    -h | --help) usage ;;
    *) die "unknown argument $1 (--help lists them)" ;;
  esac
done

# Kubernetes names are DNS labels: this also keeps them safe inside the comma-separated lists below.
dns_label='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
printf '%s\n' "$NAMESPACE" | grep -Eq "$dns_label" || die "namespace '$NAMESPACE' is not a Kubernetes namespace name"
printf '%s\n' "$SERVICE_ACCOUNT" | grep -Eq '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' || die "service account '$SERVICE_ACCOUNT' is not a Kubernetes name"

if [ -z "$VAULT_IN_CLUSTER" ]; then
  if [ -n "$KUBERNETES_CA_CERT" ]; then VAULT_IN_CLUSTER=0; else VAULT_IN_CLUSTER=1; fi
fi
if [ "$VAULT_IN_CLUSTER" = 1 ]; then
  # The API server's in-cluster name resolves in every pod, Vault's included, wherever this script runs.
  KUBERNETES_HOST="${KUBERNETES_HOST:-https://kubernetes.default.svc:443}"
else
  [ -n "$KUBERNETES_HOST" ] || die "Vault outside the cluster: give --kubernetes-host (the API server URL Vault can reach)"
  [ -n "$KUBERNETES_CA_CERT" ] || die "Vault outside the cluster: give --kubernetes-ca-cert (PEM file of the API server's CA)"
fi
[ -z "$KUBERNETES_CA_CERT" ] || [ -r "$KUBERNETES_CA_CERT" ] || die "cannot read $KUBERNETES_CA_CERT"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROLE_PATH="auth/${AUTH_PATH}/role/scopegate"

# "a b c" -> the values of a JSON array of DNS labels printed by `vault read -field=X -format=json`.
json_list() { tr -d '[]" \n\t' | tr ',' ' '; }
# Space-separated set operations (order kept, no duplicates).
with() { out=""; for x in $1 $2; do case " $out " in *" $x "*) ;; *) out="$out $x" ;; esac; done; echo $out; }
without() { out=""; for x in $1; do [ "$x" = "$2" ] || out="$out $x"; done; echo $out; }
commas() { echo "$1" | tr ' ' ','; }

auth_enabled() { "$VAULT_CLI" auth list -format=json | grep -q "\"${AUTH_PATH}/\""; }

# What the role binds today: nothing if it does not exist yet; any other read error stops the run rather
# than rewriting the role without the namespaces bound before.
BOUND_NAMESPACES=""
BOUND_NAMES=""
read_role() {
  auth_enabled || return 0
  if ! out="$("$VAULT_CLI" read -format=json "$ROLE_PATH" 2>&1)"; then
    case "$out" in *"No value found"*) return 0 ;; esac
    die "cannot read ${ROLE_PATH}: $out"
  fi
  BOUND_NAMESPACES="$("$VAULT_CLI" read -field=bound_service_account_namespaces -format=json "$ROLE_PATH" | json_list)"
  BOUND_NAMES="$("$VAULT_CLI" read -field=bound_service_account_names -format=json "$ROLE_PATH" | json_list)"
}
read_role

if [ "$UNBIND" = 1 ]; then
  case " $BOUND_NAMESPACES " in *" $NAMESPACE "*) ;; *) echo "setup.sh: ${NAMESPACE} is not bound to ${ROLE_PATH} (nothing to do)"; exit 0 ;; esac
  REMAINING="$(without "$BOUND_NAMESPACES" "$NAMESPACE")"
  if [ -z "$REMAINING" ]; then
    "$VAULT_CLI" delete "$ROLE_PATH" >/dev/null
    echo "setup.sh: ${NAMESPACE} unbound; no namespace left, role ${ROLE_PATH} deleted"
  else
    "$VAULT_CLI" write "$ROLE_PATH" bound_service_account_namespaces="$(commas "$REMAINING")" >/dev/null
    echo "setup.sh: ${NAMESPACE} unbound; role ${ROLE_PATH} keeps namespace(s) ${REMAINING}"
  fi
  exit 0
fi

# KV v2 for the tenant records (one secret per tenant at $KV_MOUNT/scopegate/tenants/<tenant-id>).
if ! "$VAULT_CLI" secrets list -format=json | grep -q "\"${KV_MOUNT}/\""; then
  "$VAULT_CLI" secrets enable -path="$KV_MOUNT" -version=2 kv
fi

# Kubernetes auth: Vault checks the pod's service-account JWT with the TokenReview API.
if ! auth_enabled; then
  "$VAULT_CLI" auth enable -path="$AUTH_PATH" kubernetes
fi
if [ "$VAULT_IN_CLUSTER" = 0 ]; then
  # Vault outside the cluster: trust this CA for the API server, and review each login with the
  # caller's own JWT -- scopegate's service account then needs the system:auth-delegator
  # ClusterRole (README.md beside this file).
  "$VAULT_CLI" write "auth/${AUTH_PATH}/config" kubernetes_host="$KUBERNETES_HOST" \
    kubernetes_ca_cert=@"$KUBERNETES_CA_CERT" disable_local_ca_jwt=true
elif [ -n "$KUBERNETES_CA_CERT" ]; then
  # Vault in the cluster, CA given: the reviewer JWT still comes from Vault's own pod.
  "$VAULT_CLI" write "auth/${AUTH_PATH}/config" kubernetes_host="$KUBERNETES_HOST" \
    kubernetes_ca_cert=@"$KUBERNETES_CA_CERT" disable_local_ca_jwt=false
else
  # Vault in the cluster: CA and reviewer JWT come from Vault's own pod.
  "$VAULT_CLI" write "auth/${AUTH_PATH}/config" kubernetes_host="$KUBERNETES_HOST" disable_local_ca_jwt=false
fi

# The policy ships with the KV paths for mount `secret`; rewrite them for another mount.
sed "s#\"secret/#\"${KV_MOUNT}/#" "$HERE/scopegate-policy.hcl" | "$VAULT_CLI" policy write scopegate-tenants -

# Role `scopegate` (config: secrets.vault.auth.role). Vault admits a login whose service account is any
# of the names in any of the namespaces, so keep one service-account name (the default) everywhere.
# `audience`: Vault rejects a JWT not issued for it, so a token projected for another audience (or the
# pod's default token, whose audience is the API server) cannot be replayed here.
NAMESPACES="$(with "$BOUND_NAMESPACES" "$NAMESPACE")"
NAMES="$(with "$BOUND_NAMES" "$SERVICE_ACCOUNT")"
"$VAULT_CLI" write "$ROLE_PATH" \
  bound_service_account_names="$(commas "$NAMES")" \
  bound_service_account_namespaces="$(commas "$NAMESPACES")" \
  audience="$AUDIENCE" \
  token_policies=scopegate-tenants \
  token_ttl="$TOKEN_TTL" \
  token_max_ttl="$TOKEN_MAX_TTL"

echo "setup.sh: role ${ROLE_PATH} -> policy scopegate-tenants, audience ${AUDIENCE}, service account(s) ${NAMES} in namespace(s) ${NAMESPACES}"
