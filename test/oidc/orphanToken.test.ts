// A person's token whose client no longer exists (deleted where the deletion's revocation could
// not reach it, e.g. issued by another instance from its client cache): introspection by the
// API's resource server answers { active: false }, never a 500 from the protocol library.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { introspect, type Ledger, seedLedger, signIn } from './ledger.ts';

describe('a token whose client is gone', () => {
  let server: TestServer;
  let ledger: Ledger;

  before(async () => {
    // No client cache: the deletion below is seen at once.
    server = await startTestServer({ env: { CACHE_SECONDS: '0' } });
    ledger = await seedLedger(server);
  });
  after(() => server.close());

  test('is inactive to the resource server, not a server error', async () => {
    const tokens = await signIn(server, ledger);
    assert.equal((await introspect(server, ledger, tokens.access_token)).active, true);
    // The client's row goes, its token stays (the revocation of a deletion did not reach it).
    await server.db.knex('clients').where({ client_id: ledger.app.id }).delete();
    const answer = await introspect(server, ledger, tokens.access_token);
    assert.deepEqual(answer, { active: false });
  });
});
