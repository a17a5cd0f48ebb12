// The catalogue's detail types and consent scope: validated, each type declared by one API at
// most (a conflict names the other API), found by type (cached, and current after a change).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { createCatalogue } from '../../src/oidc/catalogue.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const scopes = [
  { name: 'payments:write', description: 'Make payments' },
  { name: 'payments:execute', description: 'Execute consented payments' },
];

describe('catalogue detail types', () => {
  let db: TestDatabase;
  let catalogue: ReturnType<typeof createCatalogue>;
  const apiRows = async () =>
    await db
      .knex('apis')
      .select('identifier', 'detail_types', 'consent_scope')
      .orderBy('identifier');

  before(async () => {
    db = await createTestDatabase();
    catalogue = createCatalogue({ knex: db.knex, clock: manualClock(), cacheSeconds: 60 });
  });
  after(() => db.drop());

  test('an API declares detail types with its consent scope; found by type', async () => {
    const api = await catalogue.create({
      identifier: 'https://payments.example',
      scopes,
      detailTypes: ['payment_initiation'],
      consentScope: 'payments:execute',
    });
    assert.deepEqual(api.detailTypes, ['payment_initiation']);
    assert.equal(api.consentScope, 'payments:execute');
    assert.deepEqual((await catalogue.get(api.id))?.detailTypes, ['payment_initiation']);
    assert.equal((await catalogue.apiForDetailType('payment_initiation'))?.id, api.id);
    assert.equal(await catalogue.apiForDetailType('account_information'), undefined);
    const listed = (await catalogue.list()).find((a) => a.id === api.id);
    assert.equal(listed?.consentScope, 'payments:execute');
  });

  test('refusals name the field and write nothing', async () => {
    const before = await apiRows();
    const cases: [Record<string, unknown>, string, string, RegExp][] = [
      [
        { detailTypes: ['wire_transfer'], consentScope: 'payments:execute' },
        'invalid_input',
        'detailTypes/0',
        /unknown detail type 'wire_transfer'/,
      ],
      [
        {
          detailTypes: ['account_information', 'account_information'],
          consentScope: 'payments:execute',
        },
        'invalid_input',
        'detailTypes/1',
        /listed twice/,
      ],
      [
        { detailTypes: ['account_information'] },
        'invalid_input',
        'consentScope',
        /needs a consent scope/,
      ],
      [
        { detailTypes: ['account_information'], consentScope: 'accounts:read' },
        'invalid_input',
        'consentScope',
        /'accounts:read' is not one of the API's scopes/,
      ],
      [
        { detailTypes: ['payment_initiation'], consentScope: 'payments:execute' },
        'conflict',
        'detailTypes',
        /'payment_initiation' is already declared by the API https:\/\/payments\.example/,
      ],
    ];
    for (const [extra, code, field, message] of cases) {
      await assert.rejects(
        catalogue.create({ identifier: 'https://other.example', scopes, ...extra }),
        (err: { code: string; field: string; message: string }) => {
          assert.equal(err.code, code, JSON.stringify(extra));
          assert.equal(err.field, field);
          assert.match(err.message, message);
          return true;
        },
      );
    }
    assert.deepEqual(await apiRows(), before);
  });

  test('update: types move between APIs, and the consent scope must stay one of the scopes', async () => {
    const other = await catalogue.create({ identifier: 'https://accounts.example', scopes });
    assert.deepEqual(other.detailTypes, []);
    assert.equal(other.consentScope, undefined);
    const updated = await catalogue.update(other.id, {
      detailTypes: ['account_information'],
      consentScope: 'payments:execute',
    });
    assert.deepEqual(updated.detailTypes, ['account_information']);
    assert.equal((await catalogue.apiForDetailType('account_information'))?.id, other.id);
    const before = await apiRows();
    await assert.rejects(catalogue.update(other.id, { scopes: [scopes[0]!] }), {
      code: 'invalid_input',
      field: 'consentScope',
    });
    await assert.rejects(catalogue.update(other.id, { consentScope: null }), {
      code: 'invalid_input',
      field: 'consentScope',
    });
    await assert.rejects(catalogue.update(other.id, { detailTypes: ['payment_initiation'] }), {
      code: 'conflict',
      field: 'detailTypes',
    });
    assert.deepEqual(await apiRows(), before);
    // The payments API gives its type up; the other one takes it (the cache follows at once).
    const payments = (await catalogue.apiForDetailType('payment_initiation'))!;
    await catalogue.update(payments.id, { detailTypes: [], consentScope: null });
    assert.equal(await catalogue.apiForDetailType('payment_initiation'), undefined);
    await catalogue.update(other.id, {
      detailTypes: ['account_information', 'payment_initiation'],
    });
    assert.equal((await catalogue.apiForDetailType('payment_initiation'))?.id, other.id);
    await catalogue.delete(other.id);
    assert.equal(await catalogue.apiForDetailType('account_information'), undefined);
  });

  test('two APIs claiming one type at once: exactly one gets it', async () => {
    const claim = (n: number) =>
      catalogue.create({
        identifier: `https://race-${n}.example`,
        scopes,
        detailTypes: ['account_information'],
        consentScope: 'payments:execute',
      });
    const results = await Promise.allSettled([claim(1), claim(2), claim(3)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results)
      if (r.status === 'rejected') assert.equal((r.reason as { code: string }).code, 'conflict');
    const declaring = (await apiRows()).filter((a) =>
      a.detail_types.includes('account_information'),
    );
    assert.equal(declaring.length, 1);
  });
});
