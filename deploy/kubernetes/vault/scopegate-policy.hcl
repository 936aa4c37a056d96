# Vault policy `scopegate-tenants`: what scopegate may do in Vault -- read tenant records, nothing else.
#
# KV v2 puts the API under <mount>/data/... (secret values) and <mount>/metadata/... (versions, and
# the LIST of keys); the CLI's `vault kv get secret/scopegate/tenants/acme` is
# GET /v1/secret/data/scopegate/tenants/acme. Layout: README.md beside this file.
# Adjust `secret` and `scopegate/tenants` if the config sets another secrets.vault.kvMount / tenantPrefix.

# Read one tenant's record (client_id, client_secret, divisions, environment). scopegate reads a record
# when a request names its tenant (discovery.fromSecretStore included); it never lists tenant ids, so
# nothing is granted on metadata/: no list, no read, no write, no delete. Tenant records are written by
# operators (docs/tenants.md).
path "secret/data/scopegate/tenants/*" {
  capabilities = ["read"]
}
