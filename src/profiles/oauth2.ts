/**
 * The OAuth 2.0 token exchange as a pair of pure functions: build the request, parse the response. A profile
 * (src/profiles/<idp>/) picks the grant and the parse defaults; the HTTP round trip is the token endpoint's
 * (src/tokens/token-endpoint.ts), which knows nothing of either.
 * - client credentials (RFC 6749 §4.4): HTTP Basic client auth (RFC 6749 §2.3.1), body grant_type=client_credentials;
 * - resource owner password credentials (RFC 6749 §4.3): the same client auth, body
 *   grant_type=password&username=…&password=…;
 * - the response (RFC 6749 §5.1 success, RFC 6749 §5.2 error) is read the same way for both.
 */
import type { AccessKey, ClientCredentials } from "../secrets/credentials.js";

export interface TokenRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** RFC 6749 §4.4.2: no scope (the client's grants are the scope). */
export function buildClientCredentialsRequest(url: string, credentials: ClientCredentials): TokenRequest {
  return formPost(url, credentials, "grant_type=client_credentials");
}

/** RFC 6749 §4.3.2: the resource owner's username and password, form-urlencoded, after the grant type. */
export function buildPasswordRequest(url: string, credentials: ClientCredentials, owner: AccessKey): TokenRequest {
  return formPost(url, credentials, `grant_type=password&${owner.passwordGrantFields()}`);
}

function formPost(url: string, credentials: ClientCredentials, body: string): TokenRequest {
  return {
    url: new URL(url),
    headers: {
      authorization: credentials.basicAuthorization(),
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    },
    body,
  };
}

export type TokenResult =
  | { readonly kind: "token"; readonly token: IssuedToken }
  | { readonly kind: "error"; readonly error: TokenError };

export interface IssuedToken {
  /** "Bearer <access_token>": the value of the Authorization header, built once. */
  readonly authorization: string;
  readonly expiresInSeconds: number;
}

export type TokenErrorCode = "invalid_client" | "rate_limited" | "unavailable" | "bad_response";

export interface TokenError {
  readonly code: TokenErrorCode;
  readonly httpStatus?: number;
  /** From Retry-After (integer seconds, RFC 9110 §10.2.3; Genesys sends these, docs/genesys-facts.md) on 429. */
  readonly retryAfterSeconds?: number;
  /** The server's `error` code (e.g. invalid_client), never its description verbatim. */
  readonly oauthError?: string;
}

/**
 * RFC 6749 §5.1 and RFC 6749 §5.2. `fallbackExpiresInSeconds` is what the profile assumes when a 200 answer has no usable
 * expires_in (RFC 6749 makes it only RECOMMENDED).
 */
export function parseTokenResponse(status: number, retryAfter: string | undefined, body: string, fallbackExpiresInSeconds: number): TokenResult {
  if (status === 200) {
    const json = safeJson(body);
    const accessToken = json?.["access_token"];
    if (typeof accessToken !== "string" || accessToken === "" || /[\s\r\n]/.test(accessToken)) {
      return fail({ code: "bad_response", httpStatus: status });
    }
    const tokenType = typeof json?.["token_type"] === "string" ? (json["token_type"] as string) : "bearer";
    if (tokenType.toLowerCase() !== "bearer") return fail({ code: "bad_response", httpStatus: status, oauthError: "token_type" });
    const rawExpires = Number(json?.["expires_in"]);
    const expiresInSeconds = Number.isFinite(rawExpires) && rawExpires > 0 ? rawExpires : fallbackExpiresInSeconds;
    // The header uses the canonical "Bearer" scheme name whatever case token_type came in.
    return { kind: "token", token: { authorization: `Bearer ${accessToken}`, expiresInSeconds } };
  }
  const json = safeJson(body);
  const oauthError = typeof json?.["error"] === "string" ? (json["error"] as string) : undefined;
  if (status === 429) {
    const seconds = Number.parseInt(retryAfter ?? "", 10);
    return fail({ code: "rate_limited", httpStatus: status, ...(Number.isFinite(seconds) && seconds >= 0 ? { retryAfterSeconds: seconds } : {}) });
  }
  if (oauthError === "invalid_client" || oauthError === "unauthorized_client" || status === 401) {
    return fail({ code: "invalid_client", httpStatus: status, oauthError: oauthError ?? "invalid_client" });
  }
  if (status >= 500 || status === 408) return fail({ code: "unavailable", httpStatus: status });
  return fail({ code: "bad_response", httpStatus: status, ...(oauthError ? { oauthError } : {}) });
}

function fail(error: TokenError): TokenResult {
  return { kind: "error", error };
}

function safeJson(body: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body);
    return v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
