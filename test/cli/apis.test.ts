// `portcullis api` and an API's resource servers (the clients allowed to introspect its tokens):
// declared at creation, added and removed later, shown, audited; bad client ids refused with one
// line, a non-zero exit and nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

const CARDS = 'https://cards.api.example';
const LOANS = 'https://loans.api.example';

describe('portcullis api: resource servers', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  let backend: string;
  let fraud: string;
  let publicApp: string;

  const cli = async (args: string[]) => {
    const result = await runCli(args, env);
    assert.equal(result.code, 0, result.stderr);
    return result;
  };
  const json = async (args: string[]) => JSON.parse((await cli([...args, '--json'])).stdout);
  const apiNamed = async (identifier: string) =>
    (await json(['api', 'list'])).find((a: { identifier: string }) => a.identifier === identifier);
  const auditCount = async () =>
    (await json(['audit', 'list', '--limit', '500'])).events.length as number;
  const newClient = async (name: string, extra: string[]) =>
    (await json(['client', 'create', '--name', name, ...extra])).clientId as string;

  before(async () => {
    ({ env, db } = await cliEnv());
    await cli(['api', 'create', '--identifier', CARDS, '--scope', 'cards:read=See your cards']);
    const machine = ['--grant', 'client_credentials', '--api', CARDS];
    backend = await newClient('Cards backend', machine);
    fraud = await newClient('Fraud checks', machine);
    publicApp = await newClient('Cards app', [
      '--grant',
      'authorization_code',
      '--redirect-uri',
      'https://cards.example/cb',
      '--api',
      CARDS,
      '--public',
    ]);
  });
  after(async () => {
    await db?.drop();
  });

  test('--help tells how to declare resource servers', async () => {
    const create = await cli(['api', 'create', '--help']);
    assert.match(create.stdout, /--resource-server <client-id>/);
    const group = await cli(['api', 'resource-server', '--help']);
    assert.match(group.stdout, /\badd\b/);
    assert.match(group.stdout, /\bremove\b/);
  });

  test('api create --resource-server (repeated); list and show them; audited', async () => {
    const created = await json([
      'api',
      'create',
      '--identifier',
      LOANS,
      '--scope',
      'loans:read=See your loans',
      '--format',
      'opaque',
      '--resource-server',
      fraud,
      '--resource-server',
      backend,
    ]);
    assert.deepEqual(created.resourceServers, [backend, fraud].sort());

    const table = (await cli(['api', 'list'])).stdout;
    assert.match(
      table,
      /^IDENTIFIER\s+NAME\s+FORMAT\s+TTL\s+SCOPES\s+RESOURCE_SERVERS\s+DETAIL_TYPES$/m,
    );
    const loansRow = table.split('\n').find((l) => l.startsWith(LOANS))!;
    assert.ok(loansRow.includes(backend) && loansRow.includes(fraud), loansRow);

    const shown = (await cli(['api', 'show', '--identifier', LOANS])).stdout;
    assert.match(shown, /^scope\s+loans:read \(level 1\): See your loans$/m);
    assert.match(
      shown,
      new RegExp(`^resource servers\\s+${[backend, fraud].sort().join(', ')}$`, 'm'),
    );
    const event = (await json(['audit', 'list', '--action', 'api.created'])).events.at(-1);
    assert.deepEqual(event.target, { type: 'api', id: LOANS });
    assert.deepEqual(event.details.resourceServers, [backend, fraud].sort());
  });

  test('api resource-server add and remove change an existing API; each change audited', async () => {
    const added = await cli(['api', 'resource-server', 'add', '--identifier', CARDS, backend]);
    assert.equal(added.stdout, `resource servers of ${CARDS}: ${backend}\n`);
    // Adding one already there changes nothing and records nothing.
    const events = await auditCount();
    await cli(['api', 'resource-server', 'add', '--identifier', CARDS, backend]);
    assert.equal(await auditCount(), events);
    const both = await json(['api', 'resource-server', 'add', '--identifier', CARDS, fraud]);
    assert.deepEqual(both.resourceServers, [backend, fraud].sort());

    const removed = await cli(['api', 'resource-server', 'remove', '--identifier', CARDS, backend]);
    assert.equal(removed.stdout, `resource servers of ${CARDS}: ${fraud}\n`);
    const event = (await json(['audit', 'list', '--action', 'api.updated'])).events.at(-1);
    assert.deepEqual(event.target, { type: 'api', id: CARDS });
    assert.deepEqual(event.details.before, { resourceServers: [backend, fraud].sort() });
    assert.deepEqual(event.details.after, { resourceServers: [fraud] });
    await cli(['api', 'resource-server', 'remove', '--identifier', CARDS, fraud]);
    assert.match(
      (await cli(['api', 'show', '--identifier', CARDS])).stdout,
      /^resource servers\s+\(none\)$/m,
    );
  });

  test('bad resource servers: one line, non-zero exit, nothing written', async () => {
    const apis = await json(['api', 'list']);
    const events = await auditCount();
    const create = (...clientIds: string[]) =>
      runCli(
        [
          'api',
          'create',
          '--identifier',
          'https://savings.api.example',
          '--scope',
          'savings:read=See your savings',
          ...clientIds.flatMap((id) => ['--resource-server', id]),
        ],
        env,
      );
    assertOneLineError(
      await create(backend, 'no-such-client'),
      '--resource-server: no client no-such-client (see "portcullis client list")',
    );
    assertOneLineError(
      await create(publicApp),
      `--resource-server: client ${publicApp} is public (it authenticates with no secret or key), so it cannot be a resource server`,
    );
    assertOneLineError(
      await create(backend, backend),
      `--resource-server: client ${backend} is listed twice`,
    );
    const add = (identifier: string, ...clientIds: string[]) =>
      runCli(['api', 'resource-server', 'add', '--identifier', identifier, ...clientIds], env);
    assertOneLineError(
      await add(CARDS, 'no-such-client'),
      'no client no-such-client (see "portcullis client list")',
    );
    assertOneLineError(
      await add(CARDS, publicApp),
      `client ${publicApp} is public (it authenticates with no secret or key), so it cannot be a resource server`,
    );
    assertOneLineError(
      await add('https://nowhere.example', backend),
      'no API with identifier https://nowhere.example (see "portcullis api list")',
    );
    const admin = apis.find((a: { identifier: string }) => a.identifier.endsWith('/admin/v1'));
    assertOneLineError(
      await add(admin.identifier, backend),
      'this API is managed by Portcullis itself and cannot be changed',
    );
    assertOneLineError(
      await runCli(['api', 'resource-server', 'remove', '--identifier', CARDS, backend], env),
      `client ${backend} is not a resource server of ${CARDS}`,
    );
    const missing = await runCli(['api', 'resource-server', 'add', '--identifier', CARDS], env);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /missing required argument 'client-id'/);

    assert.deepEqual(await json(['api', 'list']), apis, 'no API created or changed');
    assert.equal(await auditCount(), events, 'nothing recorded');
  });

  test('a deleted client is no longer a resource server of any API', async () => {
    const gone = await newClient('Short-lived', ['--grant', 'client_credentials', '--api', CARDS]);
    await cli(['api', 'resource-server', 'add', '--identifier', CARDS, gone]);
    assert.deepEqual((await apiNamed(CARDS)).resourceServers, [gone]);
    await cli(['client', 'delete', gone]);
    assert.deepEqual((await apiNamed(CARDS)).resourceServers, []);
  });
});
