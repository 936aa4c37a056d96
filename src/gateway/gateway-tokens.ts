/**
 * Minting and verifying gateway tokens with the current keyring, and a small bounded memo of verified tokens so
 * an app's API calls do not decrypt its token on every check. The memo is keyed by the token string and holds its
 * claims; expiry and the caller identity are checked on every use, and a new keyring (rotation) empties it, so a
 * token whose key was removed stops working at once.
 */
import { LRUCache } from "lru-cache";
import { mintGatewayToken, openGatewayToken, type GatewayClaims, type GatewayKeyring } from "./gateway-token.js";

export type GatewayTokenCheck = GatewayClaims | "invalid";

export class GatewayTokens {
  #ring: GatewayKeyring;
  #verified: LRUCache<string, GatewayClaims>;

  constructor(
    ring: GatewayKeyring,
    /** Longest lifetime of a gateway token (config gatewayTokens.ttlSeconds). */
    readonly ttlSeconds: number,
    private readonly max = 10_000,
  ) {
    this.#ring = ring;
    this.#verified = new LRUCache({ max });
  }

  /** Swap the keyring (keys file changed); tokens verified under the old one are verified again. */
  replaceKeys(ring: GatewayKeyring): void {
    this.#ring = ring;
    this.#verified = new LRUCache({ max: this.max });
  }

  /** A token for (tenant, identity) living `lifetimeSeconds` from `nowMs`. */
  mint(tenant: string, identity: string, lifetimeSeconds: number, nowMs: number): string {
    const iat = Math.floor(nowMs / 1000);
    return mintGatewayToken(this.#ring, { tenant, identity, iat, exp: iat + lifetimeSeconds });
  }

  /**
   * The token's claims if it was sealed with a key of the current ring, has not expired and was minted for this
   * caller identity; else "invalid" (the app should log in again).
   */
  verify(token: string, identity: string, nowMs: number): GatewayTokenCheck {
    let claims = this.#verified.get(token);
    if (claims === undefined) {
      claims = openGatewayToken(this.#ring, token);
      if (claims === undefined) return "invalid";
      this.#verified.set(token, claims);
    }
    if (claims.exp * 1000 <= nowMs) {
      this.#verified.delete(token);
      return "invalid";
    }
    return claims.identity === identity ? claims : "invalid";
  }
}
