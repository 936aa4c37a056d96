export { configSchema, checkListenerAuth, unauthenticatedCheckListeners, socketModeOf, DEFAULT_ADMIN_SOCKET, DEFAULT_CHECK_SOCKET, DEFAULT_TENANT_HEADER, type CheckListenerAuth } from "./schema.js";
export type { Config, TenantConfig, RouteRuleConfig, VaultBackendConfig, VaultAuthConfig } from "./schema.js";
export { parseConfig, parseConfigText, loadConfigFile, ConfigError } from "./load.js";
export { watchConfigFile, type ConfigWatcher } from "./watch.js";
export { buildEnvironments, isAcceptableTokenUrl, type Environment, type Environments } from "./environments.js";
export { fleetSchema, type FleetConfig, type FleetRedisConfig, type FleetTokensConfig } from "./fleet.js";
