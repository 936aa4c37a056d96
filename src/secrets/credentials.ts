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

/**
 * An API user's access key (NICE CXone: access key id and secret, sent as the password grant's username and
 * password). Like ClientCredentials, the secret sits in a private field: it never serialises and is read only
 * by the token request builder.
 */
export class AccessKey {
  readonly id: string;
  readonly #secret: string;

  constructor(id: string, secret: string) {
    this.id = id;
    this.#secret = secret;
  }

  /** RFC 6749 §4.3.2 form fields: username=<id>&password=<secret>, each form-urlencoded. */
  passwordGrantFields(): string {
    return new URLSearchParams({ username: this.id, password: this.#secret }).toString();
  }

  toJSON(): Record<string, string> {
    return { id: this.id, secret: "[redacted]" };
  }

  [inspect.custom](): string {
    return `AccessKey { id: ${JSON.stringify(this.id)}, secret: [redacted] }`;
  }
}
