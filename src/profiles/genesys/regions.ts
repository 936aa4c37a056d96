/**
 * Genesys Cloud regions and the hosts derived from them. A region's *environment* is the host suffix after
 * `api.` / `login.`: the Platform API is https://api.<environment>, the OAuth token endpoint
 * https://login.<environment>/oauth/token (the official SDKs derive the login host from the API host this way:
 * platform-client-sdk-python `api_client.py` get_conf_url, platform-client-sdk-javascript `configuration.js`
 * setEnvironment; https://developer.genesys.cloud/platform/api/ lists the regions).
 *
 * The table is the SDKs' region list (platform-client-sdk-python `purecloud_region_hosts.py`,
 * platform-client-sdk-javascript `PureCloudRegionHosts.js` 259+, terraform-provider-genesyscloud
 * `genesyscloud/provider/provider.go`). It grows over time: config `environments` replaces it when a deployment
 * needs a region added before scopegate knows it, or wants to allow fewer.
 */
export const GENESYS_REGIONS: ReadonlyArray<readonly [region: string, environment: string]> = [
  ["us-east-1", "mypurecloud.com"],
  ["us-east-2", "use2.us-gov-pure.cloud"],
  ["us-west-2", "usw2.pure.cloud"],
  ["ca-central-1", "cac1.pure.cloud"],
  ["sa-east-1", "sae1.pure.cloud"],
  ["mx-central-1", "mxc1.pure.cloud"],
  ["eu-west-1", "mypurecloud.ie"],
  ["eu-west-2", "euw2.pure.cloud"],
  ["eu-central-1", "mypurecloud.de"],
  ["eu-central-2", "euc2.pure.cloud"],
  ["eusc-de-east-1", "edee1.eusc-pure.cloud"],
  ["me-central-1", "mec1.pure.cloud"],
  ["ap-south-1", "aps1.pure.cloud"],
  ["ap-southeast-1", "apse1.pure.cloud"],
  ["ap-southeast-2", "mypurecloud.com.au"],
  ["ap-northeast-1", "mypurecloud.jp"],
  ["ap-northeast-2", "apne2.pure.cloud"],
  ["ap-northeast-3", "apne3.pure.cloud"],
];

export const GENESYS_ENVIRONMENTS: readonly string[] = GENESYS_REGIONS.map(([, env]) => env);

export function tokenUrlFor(environment: string): string {
  return `https://login.${environment}/oauth/token`;
}

export function apiHostFor(environment: string): string {
  return `api.${environment}`;
}
