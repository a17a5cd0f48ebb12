// SQL for the clients table; only the client registry touches it.
import type { Knex } from 'knex';

/** Every committed change of a client row is announced here, its client_id as payload (a trigger). */
export const CLIENT_CHANGES_CHANNEL = 'portcullis_clients';

export interface ClientRow {
  client_id: string;
  metadata: Record<string, unknown>;
  secret_sealed: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export function createClientStore(knex: Knex) {
  return {
    find: (clientId: string): Promise<ClientRow | undefined> =>
      knex<ClientRow>('clients').where({ client_id: clientId }).first(),
    list: (): Promise<ClientRow[]> => knex<ClientRow>('clients').select('*').orderBy('created_at'),
    async insert(row: ClientRow): Promise<void> {
      await knex('clients').insert(row);
    },
    async upsert(row: ClientRow): Promise<void> {
      await knex('clients')
        .insert(row)
        .onConflict('client_id')
        .merge(['metadata', 'secret_sealed', 'updated_at']);
    },
    async update(clientId: string, patch: Partial<ClientRow>): Promise<boolean> {
      return (await knex('clients').where({ client_id: clientId }).update(patch)) > 0;
    },
    async delete(clientId: string): Promise<boolean> {
      return (await knex('clients').where({ client_id: clientId }).delete()) > 0;
    },
    /** Client ids whose secret is sealed under a key other than `activeKeyId`. */
    async sealedSecrets(): Promise<{ client_id: string; secret_sealed: string }[]> {
      return knex('clients').whereNotNull('secret_sealed').select('client_id', 'secret_sealed');
    },
  };
}

export type ClientStore = ReturnType<typeof createClientStore>;
