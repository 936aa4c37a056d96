/** The tenant registry from a config: configured tenants, and discovery through the secret store when enabled. */
import { buildEnvironments, type Config } from "../config/index.js";
import type { CachedSecretStore } from "../secrets/cached-secret-store.js";
import { TenantRegistry } from "../tenants/registry.js";

export function buildRegistry(config: Config, secrets: CachedSecretStore): TenantRegistry {
  return new TenantRegistry(config.tenants, buildEnvironments(config.environments), {
    enabled: config.discovery.fromSecretStore,
    store: secrets,
    defaultBinding: config.discovery.defaultBinding,
  });
}
