// oidc-provider's Client model reads and writes through the client registry: the clients table,
// with the secret sealed at rest and a short per-instance cache.
import type { ClientRegistry } from './clients.ts';
import { profileOf, profileViolations, type ServerProfileSetting } from './profiles.ts';

export function createClientAdapter(registry: ClientRegistry, serverProfile: ServerProfileSetting) {
  // The verdict per metadata object: the registry hands out the same object until the client changes.
  const verdicts = new WeakMap<Record<string, unknown>, boolean>();
  const forbiddenByProfile = (metadata: Record<string, unknown>) => {
    let forbidden = verdicts.get(metadata);
    if (forbidden === undefined) {
      forbidden = profileViolations(profileOf(metadata, serverProfile), metadata).length > 0;
      verdicts.set(metadata, forbidden);
    }
    return forbidden;
  };
  return {
    /**
     * A client its profile forbids (a secret client stored before FAPI_PROFILE=2.0 was set) does
     * not exist for the protocol: its requests fail as an unknown client's (invalid_client).
     */
    async find(id: string) {
      const metadata = await registry.providerMetadata(id);
      if (!metadata) return undefined;
      return forbiddenByProfile(metadata) ? undefined : metadata;
    },
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
