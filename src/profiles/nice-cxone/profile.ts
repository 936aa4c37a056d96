/**
 * NICE CXone, as far as its public documentation goes (docs/nice-cxone.md says what is confirmed and what is not).
 *
 * - Back-end applications authenticate with the OAuth 2.0 password grant, not client credentials: the
 *   application's client id and secret (HTTP Basic) plus an API user's access key id and access key secret as
 *   username and password (https://developer.niceincontact.com/Documentation/APIAuthenticationAndAuthorization,
 *   https://developer.niceincontact.com/Documentation/YourFirstApp).
 * - The token endpoint is found by OpenID Connect discovery; https://cxone.niceincontact.com/auth/token is what
 *   that discovery document names and what third-party clients use (secondary: not printed on the pages above).
 *   config `environments.<env>.tokenUrl` overrides it.
 * - The API host of a business unit is discovered per tenant after login (YourFirstApp). scopegate does not
 *   discover it: each CXone environment is configured with its `apiHost`.
 * - There is no division query parameter to rewrite: what a token may see is the API user's (access key's)
 *   permissions and data restrictions. Isolation is one API user per tenant; the division plan does not apply.
 */
import { buildPasswordRequest, parseTokenResponse, type TokenResult } from "../oauth2.js";
import { ENVIRONMENT_NAME, type Profile } from "../profile.js";

export const CXONE_TOKEN_URL = "https://cxone.niceincontact.com/auth/token";

/** Without expires_in, assume a short life (5 minutes): the token is refreshed early, never served stale. */
const FALLBACK_EXPIRES_IN = 300;

export const NICE_CXONE: Profile = Object.freeze<Profile>({
  id: "nice-cxone",
  name: "NICE CXone",
  environmentPattern: ENVIRONMENT_NAME,
  // No built-in list: an environment names a configured API host (config environments.<env>.apiHost).
  knownEnvironments: Object.freeze([]),
  tokenUrlFor: () => CXONE_TOKEN_URL,
  apiHostFor: () => undefined,
  // The password grant needs the API user's access key; a record without one cannot mint a token.
  buildTokenRequest: (tokenUrl, record) =>
    record.accessKey === undefined ? undefined : buildPasswordRequest(tokenUrl, record.credentials, record.accessKey),
  parseTokenResponse: (status, retryAfter, body) => rejectedOwner(parseTokenResponse(status, retryAfter, body, FALLBACK_EXPIRES_IN)),
  // The REST API's root on a business unit's API host, as third-party clients call it (secondary).
  apiPathPrefix: "/incontactapi/",
  divisionRoutes: Object.freeze([]),
  // No credential-management routes are catalogued for CXone yet (config routes.denied covers Genesys Cloud only).
  deniedRoutes: Object.freeze([]),
  divisionKeys: undefined,
});

/**
 * In the password grant a wrong or revoked access key is `invalid_grant` (RFC 6749 §5.2: "the provided
 * authorization grant (e.g., ... resource owner credentials) is invalid"): for scopegate that is a rejected
 * credential like invalid_client, so the secret is read again once (rotation) and then the tenant backs off.
 */
function rejectedOwner(result: TokenResult): TokenResult {
  if (result.kind === "error" && result.error.oauthError === "invalid_grant") {
    return { kind: "error", error: { ...result.error, code: "invalid_client" } };
  }
  return result;
}
