#!/bin/sh
# Vault side of scopegate: policy + Kubernetes auth role. Idempotent; run with a Vault token allowed
# to manage auth methods and policies (VAULT_ADDR / VAULT_TOKEN as usual).
#
#   NAMESPACE=acme ./setup.sh
#
# Variables (defaults in brackets):
#   VAULT_CLI            vault CLI to run [vault]; OpenBao's `bao` takes the same commands
#   NAMESPACE            namespace of scopegate's service account [default]
#   SERVICE_ACCOUNT      scopegate's service account [scopegate] (deploy/kubernetes/base/serviceaccount.yaml)
#   AUTH_PATH            mount path of the Kubernetes auth method [kubernetes] (config: auth.mountPath)
#   KV_MOUNT             KV v2 mount holding the tenant records [secret] (config: kvMount)
#   KUBERNETES_HOST      API server URL Vault uses to review tokens
#                        [https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT when Vault runs in the cluster]
#   KUBERNETES_CA_CERT   PEM file of the API server's CA; set it when Vault runs outside the cluster
#   TOKEN_TTL / TOKEN_MAX_TTL   lifetime of the Vault token scopegate gets at login [1h / 4h];
#                        scopegate renews it and logs in again with a fresh projected JWT when needed.
set -eu

VAULT_CLI="${VAULT_CLI:-vault}"
NAMESPACE="${NAMESPACE:-default}"
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-scopegate}"
AUTH_PATH="${AUTH_PATH:-kubernetes}"
KV_MOUNT="${KV_MOUNT:-secret}"
TOKEN_TTL="${TOKEN_TTL:-1h}"
TOKEN_MAX_TTL="${TOKEN_MAX_TTL:-4h}"
if [ -z "${KUBERNETES_HOST:-}" ]; then
  if [ -n "${KUBERNETES_SERVICE_HOST:-}" ]; then
    KUBERNETES_HOST="https://${KUBERNETES_SERVICE_HOST}:${KUBERNETES_SERVICE_PORT:-443}"
  else
    echo "setup.sh: set KUBERNETES_HOST to the API server URL Vault should use" >&2
    exit 2
  fi
fi
HERE="$(cd "$(dirname "$0")" && pwd)"

# KV v2 for the tenant records (one secret per tenant at $KV_MOUNT/scopegate/tenants/<tenant-id>).
if ! "$VAULT_CLI" secrets list -format=json | grep -q "\"${KV_MOUNT}/\""; then
  "$VAULT_CLI" secrets enable -path="$KV_MOUNT" -version=2 kv
fi

# Kubernetes auth: Vault checks the pod's service-account JWT with the TokenReview API.
if ! "$VAULT_CLI" auth list -format=json | grep -q "\"${AUTH_PATH}/\""; then
  "$VAULT_CLI" auth enable -path="$AUTH_PATH" kubernetes
fi
if [ -n "${KUBERNETES_CA_CERT:-}" ]; then
  # Vault outside the cluster: trust this CA for the API server, and review each login with the
  # caller's own JWT -- scopegate's service account then needs the system:auth-delegator
  # ClusterRole (README.md beside this file).
  "$VAULT_CLI" write "auth/${AUTH_PATH}/config" kubernetes_host="$KUBERNETES_HOST" \
    kubernetes_ca_cert=@"$KUBERNETES_CA_CERT" disable_local_ca_jwt=true
else
  # Vault in the cluster: CA and reviewer JWT come from Vault's own pod.
  "$VAULT_CLI" write "auth/${AUTH_PATH}/config" kubernetes_host="$KUBERNETES_HOST"
fi

# The policy ships with the KV paths for mount `secret`; rewrite them for another mount.
sed "s#\"secret/#\"${KV_MOUNT}/#" "$HERE/scopegate-policy.hcl" | "$VAULT_CLI" policy write scopegate-tenants -

# Role `scopegate` (config: secrets.vault.auth.role): only this service account in this namespace.
"$VAULT_CLI" write "auth/${AUTH_PATH}/role/scopegate" \
  bound_service_account_names="$SERVICE_ACCOUNT" \
  bound_service_account_namespaces="$NAMESPACE" \
  token_policies=scopegate-tenants \
  token_ttl="$TOKEN_TTL" \
  token_max_ttl="$TOKEN_MAX_TTL"

echo "setup.sh: role ${AUTH_PATH}/role/scopegate -> policy scopegate-tenants for ${NAMESPACE}/${SERVICE_ACCOUNT}"
