/**
 * Credential and grant management is denied by default (issue 11, finding 4). SDK_OPERATIONS is every
 * operation of the families GENESYS_CREDENTIAL_ROUTES covers, as the official Python SDK
 * PureCloudPlatformClientV2 269.0.0 declares them (apis/*.py resource_path and method): the list is written
 * out so the test needs no SDK, and a new SDK release can be compared against it.
 */
import { describe, expect, it } from "vitest";
import { GENESYS_DENIED_ROUTES, GENESYS_DIVISION_ROUTES } from "../../src/profiles/genesys/catalog.js";
import { buildRouteTable } from "../../src/authz/route-table.js";
import { parseConfig } from "../../src/config/index.js";
import { harness } from "../support/authorizer-harness.js";
import { checkRequest } from "../support/check-requests.js";

const SDK_OPERATIONS: [method: string, path: string][] = [
  ["POST", "/api/v2/authorization/divisions"],
  ["DELETE", "/api/v2/authorization/divisions/{divisionId}"],
  ["PUT", "/api/v2/authorization/divisions/{divisionId}"],
  ["POST", "/api/v2/authorization/divisions/{divisionId}/objects/{objectType}"],
  ["POST", "/api/v2/authorization/divisions/{divisionId}/restore"],
  ["POST", "/api/v2/authorization/policies/targets/{targetName}"],
  ["PUT", "/api/v2/authorization/policies/targets/{targetName}"],
  ["DELETE", "/api/v2/authorization/policies/targets/{targetName}/subject/{subjectId}"],
  ["POST", "/api/v2/authorization/policies/targets/{targetName}/validate"],
  ["PUT", "/api/v2/authorization/policies/{policyId}"],
  ["POST", "/api/v2/authorization/policies/{policyId}/simulate"],
  ["POST", "/api/v2/authorization/roles"],
  ["POST", "/api/v2/authorization/roles/default"],
  ["PUT", "/api/v2/authorization/roles/default"],
  ["PUT", "/api/v2/authorization/roles/settings"],
  ["POST", "/api/v2/authorization/roles/{leftRoleId}/comparedefault/{rightRoleId}"],
  ["DELETE", "/api/v2/authorization/roles/{roleId}"],
  ["PATCH", "/api/v2/authorization/roles/{roleId}"],
  ["POST", "/api/v2/authorization/roles/{roleId}"],
  ["PUT", "/api/v2/authorization/roles/{roleId}"],
  ["PUT", "/api/v2/authorization/roles/{roleId}/users/add"],
  ["PUT", "/api/v2/authorization/roles/{roleId}/users/remove"],
  ["PATCH", "/api/v2/authorization/settings"],
  ["POST", "/api/v2/authorization/subjects/{subjectId}/bulkadd"],
  ["POST", "/api/v2/authorization/subjects/{subjectId}/bulkremove"],
  ["POST", "/api/v2/authorization/subjects/{subjectId}/bulkreplace"],
  ["DELETE", "/api/v2/authorization/subjects/{subjectId}/divisions/{divisionId}/roles/{roleId}"],
  ["POST", "/api/v2/authorization/subjects/{subjectId}/divisions/{divisionId}/roles/{roleId}"],
  ["POST", "/api/v2/backgroundassistant/token"],
  ["GET", "/api/v2/conversations/keyconfigurations"],
  ["POST", "/api/v2/conversations/keyconfigurations"],
  ["POST", "/api/v2/conversations/keyconfigurations/validate"],
  ["GET", "/api/v2/conversations/keyconfigurations/{keyconfigurationsId}"],
  ["PUT", "/api/v2/conversations/keyconfigurations/{keyconfigurationsId}"],
  ["POST", "/api/v2/conversations/messaging/integrations/open/extensions/googlebusinessprofile/tokens"],
  ["GET", "/api/v2/conversations/messaging/integrations/open/extensions/googlebusinessprofile/tokens/{tokenId}"],
  ["GET", "/api/v2/conversations/messaging/integrations/open/extensions/googlebusinessprofile/tokens/{tokenId}/accounts"],
  ["DELETE", "/api/v2/groups/{groupId}/dynamicsettings"],
  ["PUT", "/api/v2/groups/{groupId}/dynamicsettings"],
  ["DELETE", "/api/v2/groups/{groupId}/members"],
  ["POST", "/api/v2/groups/{groupId}/members"],
  ["GET", "/api/v2/identityproviders"],
  ["POST", "/api/v2/identityproviders"],
  ["DELETE", "/api/v2/identityproviders/adfs"],
  ["GET", "/api/v2/identityproviders/adfs"],
  ["PUT", "/api/v2/identityproviders/adfs"],
  ["DELETE", "/api/v2/identityproviders/cic"],
  ["GET", "/api/v2/identityproviders/cic"],
  ["PUT", "/api/v2/identityproviders/cic"],
  ["DELETE", "/api/v2/identityproviders/generic"],
  ["GET", "/api/v2/identityproviders/generic"],
  ["PUT", "/api/v2/identityproviders/generic"],
  ["DELETE", "/api/v2/identityproviders/gsuite"],
  ["GET", "/api/v2/identityproviders/gsuite"],
  ["PUT", "/api/v2/identityproviders/gsuite"],
  ["DELETE", "/api/v2/identityproviders/identitynow"],
  ["GET", "/api/v2/identityproviders/identitynow"],
  ["PUT", "/api/v2/identityproviders/identitynow"],
  ["DELETE", "/api/v2/identityproviders/okta"],
  ["GET", "/api/v2/identityproviders/okta"],
  ["PUT", "/api/v2/identityproviders/okta"],
  ["DELETE", "/api/v2/identityproviders/onelogin"],
  ["GET", "/api/v2/identityproviders/onelogin"],
  ["PUT", "/api/v2/identityproviders/onelogin"],
  ["DELETE", "/api/v2/identityproviders/ping"],
  ["GET", "/api/v2/identityproviders/ping"],
  ["PUT", "/api/v2/identityproviders/ping"],
  ["DELETE", "/api/v2/identityproviders/purecloud"],
  ["GET", "/api/v2/identityproviders/purecloud"],
  ["PUT", "/api/v2/identityproviders/purecloud"],
  ["DELETE", "/api/v2/identityproviders/pureengage"],
  ["GET", "/api/v2/identityproviders/pureengage"],
  ["PUT", "/api/v2/identityproviders/pureengage"],
  ["DELETE", "/api/v2/identityproviders/salesforce"],
  ["GET", "/api/v2/identityproviders/salesforce"],
  ["PUT", "/api/v2/identityproviders/salesforce"],
  ["DELETE", "/api/v2/identityproviders/{providerId}"],
  ["GET", "/api/v2/identityproviders/{providerId}"],
  ["PUT", "/api/v2/identityproviders/{providerId}"],
  ["GET", "/api/v2/integrations/credentials"],
  ["POST", "/api/v2/integrations/credentials"],
  ["GET", "/api/v2/integrations/credentials/listing"],
  ["GET", "/api/v2/integrations/credentials/types"],
  ["DELETE", "/api/v2/integrations/credentials/{credentialId}"],
  ["GET", "/api/v2/integrations/credentials/{credentialId}"],
  ["PUT", "/api/v2/integrations/credentials/{credentialId}"],
  ["GET", "/api/v2/oauth/authorizations"],
  ["GET", "/api/v2/oauth/authorizations/{clientId}"],
  ["GET", "/api/v2/oauth/clients"],
  ["POST", "/api/v2/oauth/clients"],
  ["DELETE", "/api/v2/oauth/clients/{clientId}"],
  ["GET", "/api/v2/oauth/clients/{clientId}"],
  ["PUT", "/api/v2/oauth/clients/{clientId}"],
  ["POST", "/api/v2/oauth/clients/{clientId}/secret"],
  ["POST", "/api/v2/oauth/clients/{clientId}/usage/query"],
  ["GET", "/api/v2/oauth/clients/{clientId}/usage/query/results/{executionId}"],
  ["GET", "/api/v2/oauth/clients/{clientId}/usage/summary"],
  ["POST", "/api/v2/orgauthorization/pairings"],
  ["DELETE", "/api/v2/orgauthorization/trustees"],
  ["POST", "/api/v2/orgauthorization/trustees"],
  ["POST", "/api/v2/orgauthorization/trustees/audits"],
  ["POST", "/api/v2/orgauthorization/trustees/care"],
  ["POST", "/api/v2/orgauthorization/trustees/default"],
  ["DELETE", "/api/v2/orgauthorization/trustees/{trusteeOrgId}"],
  ["PUT", "/api/v2/orgauthorization/trustees/{trusteeOrgId}"],
  ["DELETE", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/clonedusers/{trusteeUserId}"],
  ["POST", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/groups"],
  ["DELETE", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/groups/{trusteeGroupId}"],
  ["PUT", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/groups/{trusteeGroupId}/roledivisions"],
  ["DELETE", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/groups/{trusteeGroupId}/roles"],
  ["PUT", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/groups/{trusteeGroupId}/roles"],
  ["POST", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/users"],
  ["DELETE", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/users/{trusteeUserId}"],
  ["PUT", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/users/{trusteeUserId}/roledivisions"],
  ["DELETE", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/users/{trusteeUserId}/roles"],
  ["PUT", "/api/v2/orgauthorization/trustees/{trusteeOrgId}/users/{trusteeUserId}/roles"],
  ["POST", "/api/v2/orgauthorization/trustor/audits"],
  ["DELETE", "/api/v2/orgauthorization/trustors"],
  ["DELETE", "/api/v2/orgauthorization/trustors/{trustorOrgId}"],
  ["DELETE", "/api/v2/orgauthorization/trustors/{trustorOrgId}/clonedusers/{trusteeUserId}"],
  ["PUT", "/api/v2/orgauthorization/trustors/{trustorOrgId}/clonedusers/{trusteeUserId}"],
  ["DELETE", "/api/v2/orgauthorization/trustors/{trustorOrgId}/groups/{trustorGroupId}"],
  ["PUT", "/api/v2/orgauthorization/trustors/{trustorOrgId}/groups/{trustorGroupId}"],
  ["DELETE", "/api/v2/orgauthorization/trustors/{trustorOrgId}/users/{trusteeUserId}"],
  ["PUT", "/api/v2/orgauthorization/trustors/{trustorOrgId}/users/{trusteeUserId}"],
  ["GET", "/api/v2/recording/keyconfigurations"],
  ["POST", "/api/v2/recording/keyconfigurations"],
  ["POST", "/api/v2/recording/keyconfigurations/validate"],
  ["GET", "/api/v2/recording/keyconfigurations/{keyConfigurationId}"],
  ["PUT", "/api/v2/recording/keyconfigurations/{keyConfigurationId}"],
  ["POST", "/api/v2/recording/localkeys"],
  ["GET", "/api/v2/recording/recordingkeys"],
  ["POST", "/api/v2/recording/recordingkeys"],
  ["GET", "/api/v2/recording/recordingkeys/rotationschedule"],
  ["PUT", "/api/v2/recording/recordingkeys/rotationschedule"],
  ["PATCH", "/api/v2/scim/groups/{groupId}"],
  ["PUT", "/api/v2/scim/groups/{groupId}"],
  ["POST", "/api/v2/scim/users"],
  ["DELETE", "/api/v2/scim/users/{userId}"],
  ["PATCH", "/api/v2/scim/users/{userId}"],
  ["PUT", "/api/v2/scim/users/{userId}"],
  ["PATCH", "/api/v2/scim/v2/groups/{groupId}"],
  ["PUT", "/api/v2/scim/v2/groups/{groupId}"],
  ["POST", "/api/v2/scim/v2/users"],
  ["DELETE", "/api/v2/scim/v2/users/{userId}"],
  ["PATCH", "/api/v2/scim/v2/users/{userId}"],
  ["PUT", "/api/v2/scim/v2/users/{userId}"],
  ["POST", "/api/v2/screenrecording/token"],
  ["DELETE", "/api/v2/tokens/me"],
  ["GET", "/api/v2/tokens/me"],
  ["HEAD", "/api/v2/tokens/me"],
  ["GET", "/api/v2/tokens/timeout"],
  ["PUT", "/api/v2/tokens/timeout"],
  ["DELETE", "/api/v2/tokens/{userId}"],
  ["POST", "/api/v2/users/me/password"],
  ["GET", "/api/v2/users/{subjectId}/roles"],
  ["PUT", "/api/v2/users/{subjectId}/roles"],
  ["POST", "/api/v2/users/{userId}/password"],
  ["POST", "/api/v2/webdeployments/token/oauthcodegrantjwtexchange"],
  ["POST", "/api/v2/webdeployments/token/refresh"],
  ["DELETE", "/api/v2/webdeployments/token/revoke"],
];

const rules = GENESYS_DIVISION_ROUTES.map(([method, path, param]) => ({ method, path, param }));
const table = buildRouteTable(rules, GENESYS_DENIED_ROUTES.map(([method, path]) => ({ method, path })));
/** A concrete path for a template: each {name} becomes an id. */
const concrete = (template: string): string => template.replace(/\{[^}]+\}/g, "id-1");

describe("credential and grant management routes", () => {
  it(`denies each of the ${SDK_OPERATIONS.length} SDK operations that revoke or mint credentials or change grants`, () => {
    const allowed = SDK_OPERATIONS.filter(([method, path]) => table.match(method, concrete(path)).kind !== "forbidden");
    expect(allowed).toEqual([]);
  });

  it.each([
    ["DELETE", "/api/v2/tokens/me"],
    ["HEAD", "/api/v2/tokens/me"],
    ["DELETE", "/api/v2/tokens"],
    ["GET", "/api/v2/tokens/some/future/path"],
    ["DELETE", "/api/v2/Tokens/ME"],
    ["DELETE", "/api/v2/tokens/%6De"],
    ["POST", "/api/v2/oauth/clients"],
    ["POST", "/api/v2/oauth/clients/0f4e-11/secret"],
    ["POST", "/api/v2/users/me/password"],
    ["POST", "/api/v2/authorization/subjects/u-1/divisions/d-1/roles/r-1"],
    ["POST", "/api/v2/groups/g-1/members"],
    ["PUT", "/api/v2/groups/g-1/dynamicsettings"],
    ["POST", "/api/v2/recording/localkeys"],
    ["PUT", "/api/v2/recording/recordingkeys/rotationschedule"],
  ])("%s %s is forbidden", (method, path) => {
    expect(table.match(method, path)).toEqual({ kind: "forbidden" });
  });

  it.each([
    ["GET", "/api/v2/authorization/roles", "uncatalogued"],
    ["GET", "/api/v2/authorization/divisions", "uncatalogued"],
    ["GET", "/api/v2/oauth/scopes", "uncatalogued"],
    ["GET", "/api/v2/scim/v2/users", "uncatalogued"],
    ["GET", "/api/v2/users/u-1", "uncatalogued"],
    ["POST", "/api/v2/users/u-1/passwordless", "uncatalogued"],
    ["GET", "/api/v2/groups/g-1/members", "uncatalogued"],
    ["GET", "/api/v2/groups/g-1/dynamicsettings", "uncatalogued"],
    ["PUT", "/api/v2/groups/g-1", "uncatalogued"],
    ["POST", "/api/v2/groups", "uncatalogued"],
    ["GET", "/api/v2/recording/settings", "uncatalogued"],
    ["GET", "/api/v2/routing/queues", "division"],
    ["GET", "/api/v2/users/u-1/queues", "division"],
  ])("%s %s stays %s", (method, path, kind) => {
    expect(table.match(method, path).kind).toBe(kind);
  });

  it("a denial wins over a catalogued rule for the same path, however specific", () => {
    const t = buildRouteTable([{ method: "GET", path: "/api/v2/tokens/me", param: "divisionId" }], [{ method: "*", path: "/api/v2/tokens/**" }]);
    expect(t.match("GET", "/api/v2/tokens/me")).toEqual({ kind: "forbidden" });
  });

  it("routes.denied replaces the default list, so an operator can allow a route on purpose", () => {
    const config = parseConfig({
      secrets: { backend: "file", file: { directory: "/x" } },
      tenants: [{ id: "acme", divisions: ["d"], environment: "mypurecloud.de" }],
      routes: { denied: [{ method: "*", path: "/api/v2/oauth/**" }] },
    });
    const t = buildRouteTable(rules, config.routes.denied!);
    expect(t.match("DELETE", "/api/v2/tokens/me")).toEqual({ kind: "uncatalogued" });
    expect(t.match("GET", "/api/v2/oauth/scopes")).toEqual({ kind: "forbidden" });
  });

  it("the authorizer denies DELETE /api/v2/tokens/me with route_forbidden", async () => {
    const o = await harness().check(checkRequest({ method: "DELETE", path: "/api/v2/tokens/me", headers: { "x-tenant-id": "acme" } }));
    expect(o.decision).toBe("deny");
    expect(o.reason).toBe("route_forbidden");
  });
});
