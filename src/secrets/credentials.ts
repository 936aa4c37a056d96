import { inspect } from "node:util";

/**
 * A tenant's OAuth client credentials. The secret is held in a private field: it never serialises
 * (JSON.stringify, util.inspect, pino) and is read only by the token request builder.
 */
export class ClientCredentials {
  readonly clientId: string;
  readonly #secret: string;

  constructor(clientId: string, clientSecret: string) {
    this.clientId = clientId;
    this.#secret = clientSecret;
  }

  /** RFC 6749 §2.3.1: client_id and client_secret form-urlencoded, then HTTP Basic. */
  basicAuthorization(): string {
    const id = encodeURIComponent(this.clientId);
    const secret = encodeURIComponent(this.#secret);
    return `Basic ${Buffer.from(`${id}:${secret}`, "utf8").toString("base64")}`;
  }

  sameAs(other: ClientCredentials): boolean {
    return this.clientId === other.clientId && this.#secret === other.#secret;
  }

  toJSON(): Record<string, string> {
    return { clientId: this.clientId, clientSecret: "[redacted]" };
  }

  [inspect.custom](): string {
    return `ClientCredentials { clientId: ${JSON.stringify(this.clientId)}, clientSecret: [redacted] }`;
  }
}
