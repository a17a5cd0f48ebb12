// Every instance keeps the clients it serves in memory: each committed change to a client row
// (whoever makes it: admin API, CLI, registration, raw SQL) is announced on a channel, so the
// other instances drop their copy at once instead of after CACHE_SECONDS.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function portcullis_client_changed() returns trigger language plpgsql as $$
    begin
      perform pg_notify('portcullis_clients',
        case when tg_op = 'DELETE' then old.client_id else new.client_id end);
      if tg_op = 'UPDATE' and old.client_id <> new.client_id then
        perform pg_notify('portcullis_clients', old.client_id);
      end if;
      return null;
    end $$`);
  await knex.raw(`
    create trigger clients_changed after insert or update or delete on clients
    for each row execute function portcullis_client_changed()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger clients_changed on clients');
  await knex.raw('drop function portcullis_client_changed()');
}
