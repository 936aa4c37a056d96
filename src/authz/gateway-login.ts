/**
 * Gateway login, the pure part: recognising a client-credentials login an SDK sends to the gateway, and reading
 * which tenant it names. Pure.
 *
 * In gateway mode both official Genesys SDKs send their login to the gateway too: `POST <gateway>[/<login
 * prefix>]/oauth/token` with `Authorization: Basic …` and the form body `grant_type=client_credentials`, and
 * without the app's default headers (Python PureCloudPlatformClientV2 ApiClient.get_client_credentials_token,
 * JavaScript purecloud-platform-client-v2 ApiClient.loginClientCredentialsGrant; the prefix is their gateway
 * setting `path_params_login`). scopegate answers it itself with a gateway token (docs/security.md "Gateway login").
 */
import type { CheckInput } from "./check-input.js";
import { deny, type Denial } from "./deny-reasons.js";
import { denialOf } from "./layer-errors.js";
import { checkTenantId, isTenantIdError, type TenantIdRules } from "../tenants/tenant-id.js";
import { GATEWAY_TOKEN_PREFIX } from "../gateway/gateway-token.js";

/** `/oauth/token` under any number of prefix segments; the same pattern as the shipped Envoy configs' `login` route. */
export const LOGIN_PATH = /^(\/[A-Za-z0-9._~-]+)*\/oauth\/token$/;
/** The most body a login may carry; the shipped `login` route buffers at most this much (with_request_body). */
export const MAX_LOGIN_BODY_BYTES = 4096;
const MAX_BASIC_LENGTH = 1024;

export function isLogin(method: string, path: string): boolean {
  return method === "POST" && path.length <= 512 && LOGIN_PATH.test(path);
}

/**
 * The tenant a login names: the Basic client id (RFC 6749 §2.3.1: form-urlencoded, then Basic), checked with the
 * tenant id pattern. The secret is not read (docs/security.md: the caller's identity proves who it is). When the
 * form body reached us, its grant_type must be client_credentials, exactly once (RFC 6749 §4.4.2, RFC 6749 §5.2).
 */
export function readLogin(input: CheckInput, rules: TenantIdRules): string | Denial {
  const clientId = basicClientId(input.headers.get("authorization"));
  if (clientId === undefined) return deny("login_refused");
  // The same length bound and pattern as a tenant header; a refused id is answered as the table says for logins.
  const id = checkTenantId(clientId, rules);
  if (isTenantIdError(id)) return denialOf(id, "login");
  if (input.body !== undefined) {
    if (input.body.length > MAX_LOGIN_BODY_BYTES) return deny("login_malformed");
    const grants = new URLSearchParams(input.body.toString("utf8")).getAll("grant_type");
    if (grants.length !== 1) return deny("login_malformed");
    if (grants[0] !== "client_credentials") return deny("login_grant_unsupported");
  }
  return id;
}

/** The client id of `Basic base64(urlencode(id) ":" urlencode(secret))`, or undefined. */
export function basicClientId(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.length > MAX_BASIC_LENGTH) return undefined;
  const m = /^basic[ ]+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization.trim());
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

const BEARER_GATEWAY = `bearer ${GATEWAY_TOKEN_PREFIX}`;

/**
 * The gateway token in `Authorization: Bearer sgw1.…`, or undefined for any other value (an SDK's placeholder
 * bearer is ignored, as before). The scheme is case-insensitive (RFC 7235 §2.1).
 */
export function gatewayBearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.length < BEARER_GATEWAY.length) return undefined;
  if (authorization.slice(0, BEARER_GATEWAY.length).toLowerCase() !== BEARER_GATEWAY) return undefined;
  return authorization.slice(7).trim();
}
