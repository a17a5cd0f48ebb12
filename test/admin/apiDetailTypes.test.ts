// /admin/v1/apis with authorization detail types (RFC 9396) and the consent scope: set at
// creation, changed and cleared, audited; bad values refused as problem+json naming the field,
// with nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

const PAYMENTS = 'https://payments.api.example';
const ACCOUNTS = 'https://accounts.api.example';
const scopes = [
  { name: 'payments:write', description: 'Make payments' },
  { name: 'payments:execute', description: 'Execute consented payments' },
];

describe('admin API: detail types and consent scope of APIs', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;
  let paymentsId: string;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    token = await api.machineToken(['admin:apis']);
  });
  after(() => server.close());

  test('create with detail types and consent scope; shown, listed and audited', async () => {
    const created = await api.call('POST', '/apis', {
      token,
      body: {
        identifier: PAYMENTS,
        scopes,
        detailTypes: ['payment_initiation'],
        consentScope: 'payments:execute',
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.detailTypes, ['payment_initiation']);
    assert.equal(created.body.consentScope, 'payments:execute');
    paymentsId = created.body.id;
    const shown = (await api.call('GET', `/apis/${paymentsId}`, { token })).body;
    assert.deepEqual(
      [shown.detailTypes, shown.consentScope],
      [['payment_initiation'], 'payments:execute'],
    );
    const plain = await api.call('POST', '/apis', {
      token,
      body: { identifier: ACCOUNTS, scopes: [{ name: 'accounts:read', description: 'Read' }] },
    });
    assert.deepEqual([plain.body.detailTypes, plain.body.consentScope], [[], null]);
    const { events } = await server.app.services.audit.query({ action: 'api.created' });
    const details = events.find((e) => e.target?.id === PAYMENTS)?.details;
    assert.deepEqual(details?.detailTypes, ['payment_initiation']);
    assert.equal(details?.consentScope, 'payments:execute');
    assert.equal(
      (await server.app.services.catalogue.apiForDetailType('payment_initiation'))?.identifier,
      PAYMENTS,
    );
  });

  test('PATCH sets and clears them; the change is audited', async () => {
    const accounts = (await server.app.services.catalogue.findByIdentifier(ACCOUNTS))!;
    const set = await api.call('PATCH', `/apis/${accounts.id}`, {
      token,
      body: { detailTypes: ['account_information'], consentScope: 'accounts:read' },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body.detailTypes, ['account_information']);
    assert.equal(set.body.consentScope, 'accounts:read');
    const { events } = await server.app.services.audit.query({ action: 'api.updated' });
    const details = events.at(-1)!.details as Record<string, Record<string, unknown>>;
    assert.deepEqual(details.before!.detailTypes, []);
    assert.equal(details.before!.consentScope, null);
    assert.deepEqual(details.after!.detailTypes, ['account_information']);
    const cleared = await api.call('PATCH', `/apis/${accounts.id}`, {
      token,
      body: { detailTypes: [], consentScope: null },
    });
    assert.deepEqual([cleared.body.detailTypes, cleared.body.consentScope], [[], null]);
  });

  test('bad detail types and consent scopes: problem+json with the field, nothing written', async () => {
    const listed = async () => (await api.call('GET', '/apis', { token })).body;
    const before = await listed();
    const audited = async () =>
      (await server.app.services.audit.query({ action: 'api.created' })).events.length +
      (await server.app.services.audit.query({ action: 'api.updated' })).events.length;
    const auditedBefore = await audited();
    const other = { identifier: 'https://other.api.example', scopes };
    const cases: [string, string, unknown, number, string, string][] = [
      [
        'POST',
        '/apis',
        { ...other, detailTypes: ['wire'], consentScope: 'payments:execute' },
        400,
        'validation',
        '#/detailTypes/0: Invalid option: expected one of "payment_initiation"|"account_information"',
      ],
      [
        'POST',
        '/apis',
        { ...other, detailTypes: ['account_information'] },
        400,
        'validation',
        'an API that declares detail types needs a consent scope: the scope its resource servers carry to read and consume consents',
      ],
      [
        'POST',
        '/apis',
        { ...other, detailTypes: ['account_information'], consentScope: 'accounts:read' },
        400,
        'validation',
        "consent scope 'accounts:read' is not one of the API's scopes",
      ],
      [
        'POST',
        '/apis',
        { ...other, detailTypes: ['payment_initiation'], consentScope: 'payments:write' },
        409,
        'conflict',
        `detail type 'payment_initiation' is already declared by the API ${PAYMENTS}`,
      ],
      [
        'PATCH',
        `/apis/${paymentsId}`,
        { scopes: [scopes[0]] },
        400,
        'validation',
        "consent scope 'payments:execute' is not one of the API's scopes",
      ],
      [
        'PATCH',
        `/apis/${paymentsId}`,
        { consentScope: null },
        400,
        'validation',
        'an API that declares detail types needs a consent scope: the scope its resource servers carry to read and consume consents',
      ],
    ];
    for (const [method, path, body, status, kind, detail] of cases) {
      const reply = await api.call(method as 'POST', path, { token, body });
      assertProblem(reply, status, kind, detail);
    }
    assert.deepEqual(await listed(), before);
    assert.equal(await audited(), auditedBefore);
  });
});
