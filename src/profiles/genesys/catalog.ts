/**
 * The Genesys Cloud operations that accept a division query parameter: 53 operations read from the
 * swagger-generated SDKs (docs/genesys-facts.md, "The division query parameter"). The name differs by API:
 * `divisionId` on most, `divisionIds` on business rules, case management, external contacts, scripts and
 * social-media topics.
 * Everything else takes no division query parameter, so scopegate never adds one there.
 */
export const GENESYS_DIVISION_ROUTES: ReadonlyArray<readonly [method: string, pathTemplate: string, param: string]> = [
  ["GET", "/api/v2/architect/emergencygroups/divisionviews", "divisionId"],
  ["GET", "/api/v2/architect/ivrs/divisionviews", "divisionId"],
  ["GET", "/api/v2/architect/schedulegroups", "divisionId"],
  ["GET", "/api/v2/architect/schedulegroups/divisionviews", "divisionId"],
  ["GET", "/api/v2/architect/schedules", "divisionId"],
  ["GET", "/api/v2/architect/schedules/divisionviews", "divisionId"],
  ["GET", "/api/v2/businessrules/decisiontables", "divisionIds"],
  ["GET", "/api/v2/casemanagement/caseplans", "divisionIds"],
  ["GET", "/api/v2/casemanagement/cases/externalcontacts/{externalContactId}", "divisionIds"],
  ["GET", "/api/v2/externalcontacts/contacts", "divisionIds"],
  ["GET", "/api/v2/externalcontacts/contacts/exports", "divisionIds"],
  ["GET", "/api/v2/externalcontacts/organizations", "divisionIds"],
  ["GET", "/api/v2/externalcontacts/reversewhitepageslookup", "divisionId"],
  ["GET", "/api/v2/externalcontacts/scan/contacts", "divisionId"],
  ["GET", "/api/v2/externalcontacts/scan/notes", "divisionId"],
  ["GET", "/api/v2/externalcontacts/scan/organizations", "divisionId"],
  ["GET", "/api/v2/externalcontacts/scan/relationships", "divisionId"],
  ["GET", "/api/v2/flows", "divisionId"],
  ["GET", "/api/v2/flows/datatables", "divisionId"],
  ["GET", "/api/v2/flows/datatables/divisionviews", "divisionId"],
  ["GET", "/api/v2/flows/divisionviews", "divisionId"],
  ["GET", "/api/v2/flows/milestones", "divisionId"],
  ["GET", "/api/v2/flows/milestones/divisionviews", "divisionId"],
  ["GET", "/api/v2/flows/outcomes", "divisionId"],
  ["GET", "/api/v2/flows/outcomes/divisionviews", "divisionId"],
  ["GET", "/api/v2/outbound/campaigns", "divisionId"],
  ["GET", "/api/v2/outbound/campaigns/all", "divisionId"],
  ["GET", "/api/v2/outbound/campaigns/all/divisionviews", "divisionId"],
  ["GET", "/api/v2/outbound/contactlists", "divisionId"],
  ["GET", "/api/v2/outbound/dnclists", "divisionId"],
  ["GET", "/api/v2/outbound/messagingcampaigns", "divisionId"],
  ["GET", "/api/v2/presence/definitions", "divisionId"],
  ["GET", "/api/v2/routing/assessments/jobs", "divisionId"],
  ["GET", "/api/v2/routing/queues", "divisionId"],
  ["GET", "/api/v2/routing/queues/divisionviews", "divisionId"],
  ["GET", "/api/v2/routing/wrapupcodes", "divisionId"],
  ["GET", "/api/v2/routing/wrapupcodes/divisionviews", "divisionId"],
  ["GET", "/api/v2/scripts", "divisionIds"],
  ["GET", "/api/v2/scripts/divisionviews", "divisionIds"],
  ["GET", "/api/v2/scripts/published", "divisionIds"],
  ["GET", "/api/v2/scripts/published/divisionviews", "divisionIds"],
  ["GET", "/api/v2/socialmedia/escalationrules", "divisionId"],
  ["POST", "/api/v2/socialmedia/escalations/messages", "divisionId"],
  ["GET", "/api/v2/socialmedia/topics", "divisionIds"],
  ["GET", "/api/v2/telephony/providers/edges/extensionpools", "divisionId"],
  ["GET", "/api/v2/telephony/providers/edges/extensionpools/divisionviews", "divisionId"],
  ["GET", "/api/v2/users/{userId}/queues", "divisionId"],
  ["PATCH", "/api/v2/users/{userId}/queues", "divisionId"],
  ["GET", "/api/v2/workforcemanagement/businessunits", "divisionId"],
  ["GET", "/api/v2/workforcemanagement/businessunits/divisionviews", "divisionId"],
  ["GET", "/api/v2/workforcemanagement/businessunits/{businessUnitId}/managementunits", "divisionId"],
  ["GET", "/api/v2/workforcemanagement/managementunits", "divisionId"],
  ["GET", "/api/v2/workforcemanagement/managementunits/divisionviews", "divisionId"],
];

/**
 * Routes that list objects of every division regardless of the token's grants ("a digest of all queues in
 * the organization", platform-client-sdk-python `build/docs/RoutingApi.md`): denied by default as a potential
 * cross-tenant leak.
 */
export const GENESYS_CROSS_DIVISION_ROUTES: ReadonlyArray<readonly [method: string, pathTemplate: string]> = [
  ["GET", "/api/v2/routing/queues/divisionviews/all"],
];

/**
 * Platform API operations that revoke or mint credentials or change grants, denied by default on every tenant
 * (config routes.denied replaces this list together with the cross-division routes). A workload acting
 * with a tenant's shared client-credentials token has no business with them, and each one lets one caller
 * hurt every other workload of the tenant or step outside the grants scopegate hands out:
 * - revoking the shared token (`DELETE /api/v2/tokens/me`): every workload of the tenant holds the same token,
 *   and scopegate would keep serving it, dead, until it refreshes;
 * - minting or reading credentials: OAuth clients and their secrets, integration credentials, user
 *   passwords, guest and helper tokens, SSO identity providers, SCIM provisioning (creates login identities);
 * - changing grants: roles, role–division grants of users and groups, divisions and the objects in them,
 *   access policies, trustee organisations, and group membership (a group's role–division grants apply to
 *   its members, so adding a user to a group, or changing a dynamic group's membership rule, grants roles
 *   indirectly). The token is the scope; these would widen it;
 * - recording and conversation encryption keys: a new key configuration (a customer-managed KMS), local key
 *   or recording key decides who can decrypt every recording of the org from then on; the reads list the
 *   key management configuration.
 *
 * `*` = every method; a path ending in `/**` covers everything under it. Families that exist only to manage
 * credentials or keys are denied on every method (their reads list clients, authorisations or credential and key
 * metadata); families that also serve ordinary reads (authorization, orgauthorization, scim, group members)
 * are denied on writes only.
 *
 * Source: the operation paths of the official Python SDK, PureCloudPlatformClientV2 269.0.0 (apis/*.py; the
 * same operations are documented in MyPureCloud/platform-client-sdk-python build/docs/TokensApi.md,
 * OAuthApi.md, IntegrationsApi.md, UsersApi.md, AuthorizationApi.md, ObjectsApi.md,
 * OrganizationAuthorizationApi.md, IdentityProviderApi.md, SCIMApi.md, WebDeploymentsApi.md,
 * BackgroundAssistantApi.md, ConversationsApi.md, GroupsApi.md, RecordingApi.md) and the API explorer at
 * https://developer.genesys.cloud/devapps/api-explorer. test/unit/credential-routes.test.ts lists every SDK operation
 * this is meant to cover and checks that each is denied.
 */
export const GENESYS_CREDENTIAL_ROUTES: ReadonlyArray<readonly [method: string, pathTemplate: string]> = [
  // TokensApi: DELETE/GET/HEAD /api/v2/tokens/me, DELETE /api/v2/tokens/{userId}, GET/PUT /api/v2/tokens/timeout.
  ["*", "/api/v2/tokens/**"],
  // OAuthApi: clients, client secrets, usage, and the authorisations users granted to clients.
  ["*", "/api/v2/oauth/clients/**"],
  ["*", "/api/v2/oauth/authorizations/**"],
  // IntegrationsApi: credentials that integrations (data actions, ...) use against other systems.
  ["*", "/api/v2/integrations/credentials/**"],
  // UsersApi: set a user's password (/api/v2/users/me/password matches the template too).
  ["*", "/api/v2/users/{userId}/password"],
  // AuthorizationApi / UsersApi: a user's roles.
  ["*", "/api/v2/users/{subjectId}/roles"],
  // IdentityProviderApi: who may log in to the org (SSO).
  ["*", "/api/v2/identityproviders/**"],
  // WebDeploymentsApi and BackgroundAssistantApi: guest and helper tokens.
  ["*", "/api/v2/webdeployments/token/**"],
  ["*", "/api/v2/backgroundassistant/token"],
  ["*", "/api/v2/screenrecording/token"],
  // ConversationsApi: Google Business Profile OAuth tokens stored for a messaging integration.
  ["*", "/api/v2/conversations/messaging/integrations/open/extensions/googlebusinessprofile/tokens/**"],
  // AuthorizationApi / ObjectsApi: roles, subjects' grants, divisions (and moving objects between them),
  // policies, settings. OrganizationAuthorizationApi: trustees and trustors. SCIMApi: users and groups.
  ...writes("/api/v2/authorization/**"),
  ...writes("/api/v2/orgauthorization/**"),
  ...writes("/api/v2/scim/**"),
  // GroupsApi: add or remove members, and a dynamic group's membership rule. The group's own reads and its
  // name, owners and visibility (PUT /api/v2/groups/{groupId}) stay available: they confer no roles.
  ...writes("/api/v2/groups/{groupId}/members"),
  ...writes("/api/v2/groups/{groupId}/dynamicsettings"),
  // RecordingApi and ConversationsApi: encryption key configurations (KMS), local keys, recording keys and
  // their rotation schedule.
  ["*", "/api/v2/recording/keyconfigurations/**"],
  ["*", "/api/v2/recording/localkeys/**"],
  ["*", "/api/v2/recording/recordingkeys/**"],
  ["*", "/api/v2/conversations/keyconfigurations/**"],
];

function writes(path: string): (readonly [string, string])[] {
  return ["POST", "PUT", "PATCH", "DELETE"].map((method) => [method, path] as const);
}

/** The default of config routes.denied: cross-division digests and credential or grant management. */
export const GENESYS_DENIED_ROUTES: ReadonlyArray<readonly [method: string, pathTemplate: string]> = [
  ...GENESYS_CROSS_DIVISION_ROUTES,
  ...GENESYS_CREDENTIAL_ROUTES,
];
