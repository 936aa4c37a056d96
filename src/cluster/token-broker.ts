/**
 * The primary's side of the token channel: answers a worker's question from the primary's own registry and
 * TokenProvider, so the only token requests made are the primary's (one per tenant, shared in flight, refreshed in
 * the background exactly as in single-process mode). The worker names a tenant id only; the primary resolves it
 * itself rather than trusting tenant data from the channel.
 */
import { isRegistryError, type RegistryError, type RegistryErrorCode } from "../tenants/registry.js";
import type { Tenant } from "../tenants/tenant.js";
import type { TokenLookup, TokenSource } from "../tokens/token-provider.js";
import { isTokenSourceError, type TokenSourceError, type TokenSourceErrorCode } from "../tokens/token-source-errors.js";
import { answerFromError, type TokenAnswer, type TokenAsk } from "./protocol.js";

export interface TenantResolver {
  peek(id: string): Tenant | RegistryError | undefined;
  resolve(id: string, signal: AbortSignal): Promise<Tenant | RegistryError>;
}

/** The primary's registry could not resolve the id the worker asked about: said in the token source's codes. */
const FROM_REGISTRY: { readonly [C in RegistryErrorCode]: TokenSourceErrorCode } = {
  unknown: "tenant_unknown",
  store_unavailable: "store_unavailable",
};

export class TokenBroker {
  constructor(private readonly deps: { readonly registry: TenantResolver; readonly tokens: Pick<TokenSource, "get"> }) {}

  async answer(ask: Pick<TokenAsk, "tenantId" | "budgetMs">): Promise<TokenAnswer> {
    try {
      const signal = AbortSignal.timeout(Math.max(1, ask.budgetMs));
      const tenant = this.deps.registry.peek(ask.tenantId) ?? (await this.deps.registry.resolve(ask.tenantId, signal));
      if (isRegistryError(tenant)) return { kind: "error", code: FROM_REGISTRY[tenant.code] };
      const lookup: TokenLookup | TokenSourceError = await this.deps.tokens.get(tenant, signal);
      if (isTokenSourceError(lookup)) return answerFromError(lookup);
      const { authorization, expiresAtMs, refreshAtMs } = lookup.entry;
      return { kind: "token", token: { authorization, expiresAtMs, refreshAtMs } };
    } catch {
      return { kind: "error", code: "internal" };
    }
  }
}
