// /admin/v1/apis, /admin/v1/audit-events and /admin/v1/openapi.json: the catalogue through the
// API (the admin API itself read-only), audit queries with keyset pages, and the OpenAPI
// document: valid OpenAPI 3.1, and listing every route the router serves.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { ADMIN_API_ID } from '../../src/admin/adminApi.ts';
import { adminApi as adminRouter } from '../../src/admin/api.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

const LEDGER = 'https://ledger.api.example';

describe('admin API: APIs, audit events and the OpenAPI document', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let apis: string;
  let audit: string;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    apis = await api.machineToken(['admin:apis']);
    audit = await api.machineToken(['admin:audit']);
  });
  after(() => server.close());

  test('create, show, change and delete an API; each audited', async () => {
    const created = await api.call('POST', '/apis', {
      token: apis,
      body: {
        identifier: LEDGER,
        name: 'Ledger',
        scopes: [{ name: 'ledger:read', description: 'Read the ledger' }],
      },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.tokenFormat, 'jwt');
    assert.equal(created.body.accessTokenTtl, 600);
    assert.deepEqual(created.body.scopes, [
      { name: 'ledger:read', description: 'Read the ledger', requiredLevel: 1 },
    ]);
    assert.equal(created.body.system, false);
    const id = created.body.id;
    assert.deepEqual((await api.call('GET', `/apis/${id}`, { token: apis })).body, created.body);

    const changed = await api.call('PATCH', `/apis/${id}`, {
      token: apis,
      body: {
        accessTokenTtl: 300,
        scopes: [
          { name: 'ledger:read', description: 'Read the ledger' },
          { name: 'ledger:write', description: 'Post entries', requiredLevel: 2 },
        ],
      },
    });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.accessTokenTtl, 300);
    assert.equal(changed.body.scopes[1].requiredLevel, 2);
    const { events } = await server.app.services.audit.query({ action: 'api.updated' });
    const details = events.at(-1)!.details as Record<string, { lifetime: number }>;
    assert.deepEqual([details.before!.lifetime, details.after!.lifetime], [600, 300]);

    assert.equal((await api.call('DELETE', `/apis/${id}`, { token: apis })).status, 204);
    assertProblem(await api.call('GET', `/apis/${id}`, { token: apis }), 404, 'not_found');
    const deleted = await server.app.services.audit.query({ action: 'api.deleted' });
    assert.deepEqual(deleted.events.at(-1)?.target, { type: 'api', id: LEDGER });
  });

  test('the admin API is listed as a system API and cannot be changed or deleted', async () => {
    const list = await api.call('GET', '/apis', { token: apis });
    const self = list.body.apis.find((a: { id: string }) => a.id === ADMIN_API_ID);
    assert.equal(self.identifier, `${server.issuer}/admin/v1`);
    assert.equal(self.system, true);
    for (const [method, body] of [
      ['PATCH', { accessTokenTtl: 3600 }],
      ['DELETE', undefined],
    ] as const) {
      const reply = await api.call(method, `/apis/${ADMIN_API_ID}`, { token: apis, body });
      assertProblem(
        reply,
        409,
        'conflict',
        'this API is managed by Portcullis itself and cannot be changed',
      );
    }
    const again = await server.app.services.catalogue.get(ADMIN_API_ID);
    assert.equal(again?.accessTokenTtl, 300);
  });

  test('bad APIs are refused with the field at fault; nothing is written', async () => {
    const count = async () => (await server.app.services.catalogue.list()).length;
    const before = await count();
    const cases: [unknown, string][] = [
      [
        { identifier: 'ledger', scopes: [{ name: 'a', description: 'b' }] },
        'identifier must be an absolute http(s) URI without a fragment',
      ],
      [{ identifier: LEDGER, scopes: [] }, '#/scopes: Too small: expected array to have >=1 items'],
      [
        { identifier: LEDGER, scopes: [{ name: 'openid', description: 'x' }] },
        'scope "openid" is reserved by OpenID Connect',
      ],
      [
        { identifier: LEDGER, scopes: [{ name: 'admin:users', description: 'x' }] },
        `scope "admin:users" is reserved for Portcullis' own API`,
      ],
      [
        { identifier: LEDGER, scopes: [{ name: 'a', description: 'b', level: 2 }] },
        '#/scopes/0/level: unknown field',
      ],
    ];
    for (const [body, detail] of cases) {
      assertProblem(
        await api.call('POST', '/apis', { token: apis, body }),
        400,
        'validation',
        detail,
      );
    }
    assert.equal(await count(), before);
  });

  test('audit events: filtered by action and actor, a page at a time with a keyset cursor', async () => {
    for (const n of [1, 2, 3]) {
      await api.call('POST', '/apis', {
        token: apis,
        body: {
          identifier: `https://api${n}.example`,
          scopes: [{ name: `s${n}`, description: 'x' }],
        },
      });
    }
    const first = await api.call('GET', '/audit-events?action=api.created&limit=2', {
      token: audit,
    });
    assert.equal(first.status, 200);
    assert.equal(first.body.events.length, 2);
    assert.equal(typeof first.body.next, 'number');
    const rest = await api.call(
      'GET',
      `/audit-events?action=api.created&limit=2&after=${first.body.next}`,
      { token: audit },
    );
    assert.equal(rest.body.next, null);
    const targets = [...first.body.events, ...rest.body.events].map((e) => e.target.id);
    assert.deepEqual(targets.slice(-3), [
      'https://api1.example',
      'https://api2.example',
      'https://api3.example',
    ]);
    const since = first.body.events[0].occurredAt;
    const byActor = await api.call(
      'GET',
      `/audit-events?actorType=client&actorId=${encodeURIComponent(first.body.events[0].actor.id)}&since=${encodeURIComponent(since)}&limit=500`,
      { token: audit },
    );
    assert.ok(
      byActor.body.events.every((e: { actor: { type: string } }) => e.actor.type === 'client'),
    );
    assert.ok(byActor.body.events.length >= 4);

    const bad = await api.call('GET', '/audit-events?since=yesterday&actorType=robot', {
      token: audit,
    });
    assertProblem(bad, 400, 'validation', '2 fields are not valid');
    assert.deepEqual(
      bad.body.errors.map((e: { parameter: string }) => e.parameter),
      ['since', 'actorType'],
    );
  });

  test('resource servers: declared at creation, replaced by PATCH, shown, audited; a deleted client drops out', async () => {
    const { clients, catalogue } = server.app.services;
    const backend = await api.machineClient(['admin:audit'], 'Payments backend');
    const other = await api.machineClient(['admin:audit'], 'Fraud checks');
    const created = await api.call('POST', '/apis', {
      token: apis,
      body: {
        identifier: 'https://payments.api.example',
        scopes: [{ name: 'payments:read', description: 'See payments' }],
        resourceServers: [other.id, backend.id],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.resourceServers, [backend.id, other.id].sort());
    const id = created.body.id;
    assert.deepEqual((await api.call('GET', `/apis/${id}`, { token: apis })).body, created.body);
    const createdEvent = (
      await server.app.services.audit.query({ action: 'api.created' })
    ).events.at(-1)!;
    assert.deepEqual(createdEvent.details.resourceServers, [backend.id, other.id].sort());

    const changed = await api.call('PATCH', `/apis/${id}`, {
      token: apis,
      body: { resourceServers: [backend.id] },
    });
    assert.equal(changed.status, 200);
    assert.deepEqual(changed.body.resourceServers, [backend.id]);
    assert.equal(changed.body.scopes.length, 1, 'the scopes stay');
    const updated = (await server.app.services.audit.query({ action: 'api.updated' })).events.at(
      -1,
    )!;
    const details = updated.details as Record<string, { resourceServers: string[] }>;
    assert.deepEqual(details.before!.resourceServers, [backend.id, other.id].sort());
    assert.deepEqual(details.after!.resourceServers, [backend.id]);

    await clients.delete(backend.id);
    const listed = (await api.call('GET', '/apis', { token: apis })).body.apis.find(
      (a: { id: string }) => a.id === id,
    );
    assert.deepEqual(listed.resourceServers, []);
    assert.deepEqual((await catalogue.get(id))?.resourceServers, []);

    const self = (await api.call('GET', `/apis/${ADMIN_API_ID}`, { token: apis })).body;
    assert.deepEqual(self.resourceServers, [], 'nobody introspects the admin API');
  });

  test('bad resource servers are refused naming the field; nothing is written', async () => {
    const { catalogue, clients } = server.app.services;
    const backend = await api.machineClient(['admin:audit'], 'Loans backend');
    const { client: publicApp } = await clients.create({
      name: 'Loans app',
      grantTypes: ['authorization_code'],
      redirectUris: ['https://loans.example/cb'],
      authMethod: 'none',
      apiAccess: {},
    });
    const scopes = [{ name: 'loans:read', description: 'See loans' }];
    const identifier = 'https://loans.api.example';
    const apisBefore = await catalogue.list();
    const eventsBefore = (await server.app.services.audit.query({ limit: 500 })).events.length;
    const cases: [unknown, string, string][] = [
      [[backend.id, 'no-such-client'], '#/resourceServers/1', 'no client no-such-client'],
      [
        [publicApp.clientId],
        '#/resourceServers/0',
        `client ${publicApp.clientId} is public (it authenticates with no secret or key), so it cannot be a resource server`,
      ],
      [[backend.id, backend.id], '#/resourceServers/1', `client ${backend.id} is listed twice`],
      [[''], '#/resourceServers/0', 'Too small: expected string to have >=1 characters'],
      ['everyone', '#/resourceServers', 'Invalid input: expected array, received string'],
    ];
    for (const [resourceServers, pointer, detail] of cases) {
      const reply = await api.call('POST', '/apis', {
        token: apis,
        body: { identifier, scopes, resourceServers },
      });
      assertProblem(reply, 400, 'validation');
      assert.deepEqual(reply.body.errors, [{ pointer, detail }], JSON.stringify(resourceServers));
    }
    assert.deepEqual(await catalogue.list(), apisBefore, 'no API was created');

    const created = await api.call('POST', '/apis', {
      token: apis,
      body: { identifier, scopes, resourceServers: [backend.id] },
    });
    assert.equal(created.status, 201);
    const id = created.body.id;
    const stored = await catalogue.get(id);
    for (const [resourceServers, pointer, detail] of cases) {
      const reply = await api.call('PATCH', `/apis/${id}`, {
        token: apis,
        body: { resourceServers },
      });
      assertProblem(reply, 400, 'validation');
      assert.deepEqual(reply.body.errors, [{ pointer, detail }]);
    }
    assert.deepEqual(await catalogue.get(id), stored, 'the API is unchanged');
    const reply = await api.call('PATCH', `/apis/${ADMIN_API_ID}`, {
      token: apis,
      body: { resourceServers: [backend.id] },
    });
    assertProblem(
      reply,
      409,
      'conflict',
      'this API is managed by Portcullis itself and cannot be changed',
    );
    assert.deepEqual((await catalogue.get(ADMIN_API_ID))?.resourceServers, []);
    const events = (await server.app.services.audit.query({ limit: 500 })).events;
    assert.deepEqual(
      events.slice(eventsBefore).map((e) => e.action),
      ['api.created'],
      'only the one good change was recorded',
    );
  });

  test('the OpenAPI document is valid OpenAPI 3.1 and lists every route of the router', async () => {
    const reply = await api.call('GET', '/openapi.json');
    assert.equal(reply.status, 200);
    const doc = reply.body;
    assert.equal(doc.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(doc));

    const { app } = server;
    const router = adminRouter({
      issuer: server.issuer,
      logger: app.logger,
      clockToleranceSeconds: 0,
      ring: () => app.oidc.ring,
      assurance: app.services.assurance,
      record: app.record,
      dpopAlgorithms: ['ES256'],
      claimProof: async () => false,
      registrationEnabled: true,
      services: { ...app.services },
    });
    let routes = 0;
    for (const layer of router.stack) {
      const path = String(layer.path);
      if (path.includes('{/*rest}')) continue; // the 404/405 fallback
      const openapiPath = path.replace('/admin/v1', '').replace(/:(\w+)/g, '{$1}');
      for (const method of layer.methods.filter((m) => m !== 'HEAD')) {
        assert.ok(
          doc.paths[openapiPath]?.[method.toLowerCase()],
          `${method} ${openapiPath} is documented`,
        );
        routes++;
      }
    }
    const documented = Object.values(doc.paths as Record<string, object>).flatMap((p) =>
      Object.keys(p),
    ).length;
    assert.equal(routes, documented, 'and nothing is documented that the router lacks');
    // Request schemas are the validators': unknown fields refused in the document too.
    assert.equal(doc.components.schemas.ClientInput.additionalProperties, false);
    assert.equal(
      doc.paths['/users'].get.parameters.find((p: { name: string }) => p.name === 'limit').schema
        .maximum,
      500,
    );
  });

  test('unknown paths are 404 and wrong methods 405 with Allow, as problems', async () => {
    assertProblem(await api.call('GET', '/nothing-here'), 404, 'not_found');
    const wrong = await api.call('PATCH', '/clients');
    assertProblem(wrong, 405, 'method_not_allowed', 'this resource allows GET, POST');
    assert.equal(wrong.headers.get('allow'), 'GET, POST');
  });
});
