export { configSchema, isAcceptableTokenUrl } from "./schema.js";
export type { Config, TenantConfig, RouteRuleConfig, VaultBackendConfig, VaultAuthConfig } from "./schema.js";
export { parseConfig, parseConfigText, loadConfigFile, ConfigError } from "./load.js";
