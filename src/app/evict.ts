/** Operator eviction (admin socket) in the process that holds the tokens: the single process or the cluster primary. */
import { isRegistryError } from "../tenants/registry.js";
import type { CachedSecretStore } from "../secrets/cached-secret-store.js";
import type { TenantRegistry } from "../tenants/registry.js";
import type { TokenProvider } from "../tokens/token-provider.js";

/** Drops what scopegate remembers about one tenant; true if a token was cached. The next check mints anew. */
export function evictTenant(deps: { tokens: TokenProvider; secrets: CachedSecretStore; registry: TenantRegistry }, tenantId: string): boolean {
  const known = deps.registry.peek(tenantId);
  const credentialsKey = known !== undefined && !isRegistryError(known) ? known.credentialsKey : tenantId;
  const hadToken = deps.tokens.evict(tenantId);
  deps.secrets.evict(credentialsKey);
  if (credentialsKey !== tenantId) deps.secrets.evict(tenantId);
  return hadToken;
}
