// oidc-provider hashes a client's whole metadata (JSON + SHA-256) on every Client.find to look up
// the Client it built from it; the registry hands out the same metadata object until the client
// changes, so the built Client is kept per object and found without hashing.
import type Provider from 'oidc-provider';

type ClientFind = (id: string) => Promise<unknown>;

/** `metadataOf` is the Client adapter's find: the registry's cached object, or undefined. */
export function keepBuiltClients(
  provider: Provider,
  metadataOf: (id: string) => Promise<Record<string, unknown> | undefined>,
): void {
  const Client = provider.Client as unknown as { find: ClientFind };
  const build: ClientFind = Client.find.bind(Client);
  const built = new WeakMap<Record<string, unknown>, unknown>();
  Client.find = async (id: string) => {
    // Anything unusual (no id, an unknown or forbidden client) takes the library's own path.
    if (typeof id !== 'string' || !id) return build(id);
    const metadata = await metadataOf(id);
    if (!metadata) return build(id);
    const kept = built.get(metadata);
    if (kept) return kept;
    // The library reads the metadata again (the same object, or a newer one after a change: a
    // Client kept for an older object is never asked for again, the registry no longer has it).
    const client = await build(id);
    if (client) built.set(metadata, client);
    return client;
  };
}
