/**
 * One route table per identity-provider profile, built once per policy (config load or reload), and chosen on
 * the hot path by the tenant's profile with two field reads (`routes[tenant.profile.id]`). A profile's table is
 * its own catalogue (division routes, denied routes, src/profiles/<idp>/); config may replace or extend it for a
 * profile (today config `routes` for genesys-cloud). A profile without a division parameter gets no division
 * rules and no division keys: the division plan does not apply to its tenants.
 */
import { PROFILES, type DeniedRoute, type ProfileId } from "../profiles/index.js";
import { compileDivisionKeys, type DivisionKeys } from "./division-plan.js";
import { buildRouteTable, type RouteRule, type RouteTable } from "./route-table.js";

export interface ProfileRouting {
  readonly table: RouteTable;
  /** Undefined: the profile has no division query parameter. */
  readonly divisionKeys: DivisionKeys | undefined;
}

export type ProfileRoutes = Readonly<Record<ProfileId, ProfileRouting>>;

/** What config may say about one profile's routes; each field left out keeps the profile's own. */
export interface RouteOverrides {
  /** Replaces the profile's division routes. */
  readonly rules?: readonly RouteRule[] | undefined;
  /** Added to the division routes. */
  readonly extraRules?: readonly RouteRule[] | undefined;
  /** Replaces the profile's denied routes. */
  readonly denied?: readonly DeniedRoute[] | undefined;
  /** Deny every route the table does not list. */
  readonly allowListOnly?: boolean | undefined;
}

export function buildProfileRoutes(overrides: Partial<Record<ProfileId, RouteOverrides>> = {}): ProfileRoutes {
  const entries = Object.values(PROFILES).map((profile): [ProfileId, ProfileRouting] => {
    const o = overrides[profile.id] ?? {};
    const divisionKeys = profile.divisionKeys === undefined ? undefined : compileDivisionKeys(profile.divisionKeys);
    // Without division keys a division rule could not be planned: such a profile's table holds denials only.
    const rules = divisionKeys === undefined ? [] : [...(o.rules ?? profile.divisionRoutes), ...(o.extraRules ?? [])];
    const table = buildRouteTable(rules, o.denied ?? profile.deniedRoutes, { allowListOnly: o.allowListOnly ?? false });
    return [profile.id, Object.freeze({ table, divisionKeys })];
  });
  return Object.freeze(Object.fromEntries(entries) as Record<ProfileId, ProfileRouting>);
}
