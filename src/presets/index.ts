// `corral/presets`: Envoy and CoreDNS run the way kuma-dp runs them, as process components.
export { prepareEnvoy, envoyComponent } from './envoy/preset.js';
export type { EnvoyPreset, EnvoyPresetConfig } from './envoy/preset.js';
export { EnvoyAdminError, AdminAddressError } from './envoy/admin.js';
export { EnvoyNotReadyError } from './envoy/ready.js';
export { prepareCoredns, corednsComponent, generateCorefile } from './coredns/preset.js';
export type { CorednsPreset, CorednsPresetConfig, CorefileOptions } from './coredns/preset.js';
