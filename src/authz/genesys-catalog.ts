/**
 * The Genesys Cloud operations that accept a division query parameter: 53 operations read from the
 * swagger-generated SDKs (reference genesys-cloud.md §3.2). The name differs by API: `divisionId` on most,
 * `divisionIds` on business rules, case management, external contacts, scripts and social-media topics.
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
 * the organization", reference §3.2): denied by default as a potential cross-tenant leak.
 */
export const GENESYS_CROSS_DIVISION_ROUTES: ReadonlyArray<readonly [method: string, pathTemplate: string]> = [
  ["GET", "/api/v2/routing/queues/divisionviews/all"],
];
