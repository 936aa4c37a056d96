/**
 * The client-credentials exchange as a pair of pure functions (RFC 6749 §4.4):
 * build the request, parse the response. Genesys Cloud form (docs/genesys-facts.md, "Token request"):
 * POST https://login.<env>/oauth/token, HTTP Basic client auth, body grant_type=client_credentials;
 * no scope, no org, no division parameter.
 */
import type { ClientCredentials } from "../secrets/credentials.js";

export interface TokenRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function buildTokenRequest(url: string, credentials: ClientCredentials): TokenRequest {
  return {
    url: new URL(url),
    headers: {
      authorization: credentials.basicAuthorization(),
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    },
    body: "grant_type=client_credentials",
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
  /** From Retry-After (integer seconds, docs/genesys-facts.md) on 429. */
  readonly retryAfterSeconds?: number;
  /** The server's `error` code (e.g. invalid_client), never its description verbatim. */
  readonly oauthError?: string;
}

/** Without expires_in, assume the shortest lifetime Genesys allows (300 s, docs/genesys-facts.md). */
const FALLBACK_EXPIRES_IN = 300;

export function parseTokenResponse(status: number, retryAfter: string | undefined, body: string): TokenResult {
  if (status === 200) {
    const json = safeJson(body);
    const accessToken = json?.["access_token"];
    if (typeof accessToken !== "string" || accessToken === "" || /[\s\r\n]/.test(accessToken)) {
      return fail({ code: "bad_response", httpStatus: status });
    }
    const tokenType = typeof json?.["token_type"] === "string" ? (json["token_type"] as string) : "bearer";
    if (tokenType.toLowerCase() !== "bearer") return fail({ code: "bad_response", httpStatus: status, oauthError: "token_type" });
    const rawExpires = Number(json?.["expires_in"]);
    const expiresInSeconds = Number.isFinite(rawExpires) && rawExpires > 0 ? rawExpires : FALLBACK_EXPIRES_IN;
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
