/**
 * The primary's side of the token channel: answers a worker's question from the primary's own registry and
 * TokenProvider, so the only token requests made are the primary's (one per tenant, shared in flight, refreshed in
 * the background exactly as in single-process mode). The worker names a tenant id only; the primary resolves it
 * itself rather than trusting tenant data from the channel.
 */
import { deny, isDenial, type Denial } from "../authz/deny-reasons.js";
import type { Tenant } from "../tenants/tenant.js";
import type { TokenLookup, TokenSource } from "../tokens/token-provider.js";
import { answerFromDenial, type TokenAnswer, type TokenAsk } from "./protocol.js";

export interface TenantResolver {
  peek(id: string): Tenant | Denial | undefined;
  resolve(id: string, signal: AbortSignal): Promise<Tenant | Denial>;
}

export class TokenBroker {
  constructor(private readonly deps: { readonly registry: TenantResolver; readonly tokens: Pick<TokenSource, "get"> }) {}

  async answer(ask: Pick<TokenAsk, "tenantId" | "budgetMs">): Promise<TokenAnswer> {
    try {
      const signal = AbortSignal.timeout(Math.max(1, ask.budgetMs));
      const tenant = this.deps.registry.peek(ask.tenantId) ?? (await this.deps.registry.resolve(ask.tenantId, signal));
      if (isDenial(tenant)) return answerFromDenial(tenant);
      const lookup: TokenLookup | Denial = await this.deps.tokens.get(tenant, signal);
      if (isDenial(lookup)) return answerFromDenial(lookup);
      const { authorization, expiresAtMs, refreshAtMs } = lookup.entry;
      return { kind: "token", token: { authorization, expiresAtMs, refreshAtMs } };
    } catch {
      return answerFromDenial(deny("internal_error"));
    }
  }
}
