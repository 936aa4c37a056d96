/**
 * Genesys Cloud: client-credentials grant at https://login.<environment>/oauth/token, the Platform API at
 * https://api.<environment>, and a division query parameter (`divisionId` / `divisionIds`) on the routes of
 * ./catalog.ts. Sources: docs/genesys-facts.md (token request, divisions) and the files it imports.
 */
import { buildClientCredentialsRequest, parseTokenResponse } from "../oauth2.js";
import { ENVIRONMENT_NAME, type Profile } from "../profile.js";
import { GENESYS_DENIED_ROUTES, GENESYS_DIVISION_ROUTES } from "./catalog.js";
import { apiHostFor, GENESYS_ENVIRONMENTS, tokenUrlFor } from "./regions.js";

/**
 * Without expires_in, assume the shortest token lifetime Genesys allows (300 s, docs/genesys-facts.md): a token
 * is then refreshed early rather than served past its real expiry.
 */
const FALLBACK_EXPIRES_IN = 300;

export const GENESYS_CLOUD: Profile = Object.freeze<Profile>({
  id: "genesys-cloud",
  name: "Genesys Cloud",
  environmentPattern: ENVIRONMENT_NAME,
  knownEnvironments: GENESYS_ENVIRONMENTS,
  tokenUrlFor,
  apiHostFor,
  buildTokenRequest: (tokenUrl, record) => buildClientCredentialsRequest(tokenUrl, record.credentials),
  parseTokenResponse: (status, retryAfter, body) => parseTokenResponse(status, retryAfter, body, FALLBACK_EXPIRES_IN),
  apiPathPrefix: "/api/v2/",
  divisionRoutes: Object.freeze(GENESYS_DIVISION_ROUTES.map(([method, path, param]) => Object.freeze({ method, path, param }))),
  deniedRoutes: Object.freeze(GENESYS_DENIED_ROUTES.map(([method, path]) => Object.freeze({ method, path }))),
  // Both spellings the official SDKs send (./catalog.ts); any spelling that normalises to one of them counts.
  divisionKeys: Object.freeze(["divisionId", "divisionIds"]),
});
