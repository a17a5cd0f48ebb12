// oidc-provider's Client model reads and writes through the client registry: the clients table,
// with the secret sealed at rest and a short per-instance cache.
import type { ClientRegistry } from './clients.ts';

export function createClientAdapter(registry: ClientRegistry) {
  return {
    find: (id: string) => registry.providerMetadata(id),
    /** Called by dynamic client registration (RFC 7591 / 7592). */
    upsert: (id: string, metadata: Record<string, unknown>) =>
      registry.saveProviderMetadata(id, metadata, 'registration'),
    destroy: (id: string) => registry.deleteProviderMetadata(id),
    async consume() {},
    async findByUid() {
      return undefined;
    },
    async findByUserCode() {
      return undefined;
    },
    async revokeByGrantId() {},
  };
}
