/** The identity-provider profiles scopegate ships, by id. Adding one: docs/architecture.md, "Adding a profile". */
import { GENESYS_CLOUD } from "./genesys/profile.js";
import { NICE_CXONE } from "./nice-cxone/profile.js";
import { DEFAULT_PROFILE, type Profile, type ProfileId } from "./profile.js";

export const PROFILES: Readonly<Record<ProfileId, Profile>> = Object.freeze({
  "genesys-cloud": GENESYS_CLOUD,
  "nice-cxone": NICE_CXONE,
});

/** The profile of this id; undefined for a name no profile has (a record naming one defines no tenant). */
export function profileById(id: string | undefined): Profile | undefined {
  if (id === undefined) return PROFILES[DEFAULT_PROFILE];
  return Object.hasOwn(PROFILES, id) ? PROFILES[id as ProfileId] : undefined;
}

export { DEFAULT_PROFILE, ENVIRONMENT_NAME, PROFILE_IDS, type DeniedRoute, type DivisionRoute, type Profile, type ProfileId } from "./profile.js";
export type { IssuedToken, TokenError, TokenErrorCode, TokenRequest, TokenResult } from "./oauth2.js";
