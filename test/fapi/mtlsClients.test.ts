// Registering mutual TLS clients (RFC 8705) by every path: the client rules, the admin API, the
// CLI and dynamic registration, each with its refusals and nothing stored when refused; and a
// server without a source of client certificates refuses them with the reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DomainError } from '../../src/errors.ts';
import { adminApi, assertProblem } from '../admin/helpers.ts';
import { createTestPki, type TestPki } from '../support/certificates.ts';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { jwkWithCertificate, PAYMENTS, TPP_REDIRECT } from './mtlsWorld.ts';

/** Behind a proxy that forwards certificates: enough for the mTLS feature, no TLS needed. */
const PROXIED = {
  TRUSTED_PROXIES: '127.0.0.2',
  MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert',
};

const TPP = {
  name: 'Fintech One',
  grantTypes: ['authorization_code' as const],
  redirectUris: [TPP_REDIRECT],
  apiAccess: {},
};

describe('registering mutual TLS clients', () => {
  let pki: TestPki;
  let server: TestServer;
  const count = async () => (await server.app.services.clients.list()).length;

  before(async () => {
    pki = createTestPki();
    server = await startTestServer({ env: PROXIED });
    await server.app.services.catalogue.create({
      identifier: PAYMENTS,
      scopes: [{ name: 'payments:read', description: 'See your payments' }],
    });
  });
  after(async () => {
    await server?.close();
    pki?.remove();
  });

  test('the client rules: a subject for tls_client_auth only, certificates in the JWKS for self-signed', async () => {
    const { clients } = server.app.services;
    const selfSignedKey = await jwkWithCertificate(pki.selfSigned);
    const { x5c: _x5c, ...bareKey } = selfSignedKey;
    const cases: Array<[Parameters<typeof clients.create>[0], string, string]> = [
      [
        { ...TPP, authMethod: 'tls_client_auth' },
        'tlsSubject',
        'tls_client_auth needs the certificate subject: a subject DN or one subject alternative name',
      ],
      [
        { ...TPP, authMethod: 'tls_client_auth', tlsSubject: { kind: 'san_dns', value: ' ' } },
        'tlsSubject',
        'the certificate subject needs a value',
      ],
      [
        {
          ...TPP,
          authMethod: 'tls_client_auth',
          tlsSubject: { kind: 'subject' as never, value: 'CN=x' },
        },
        'tlsSubject',
        'unknown certificate subject kind subject (allowed: subject_dn, san_dns, san_uri, san_ip, san_email)',
      ],
      [
        {
          ...TPP,
          authMethod: 'client_secret_basic',
          tlsSubject: { kind: 'san_dns', value: 'a.example' },
        },
        'tlsSubject',
        'a certificate subject is only used with tls_client_auth',
      ],
      [
        { ...TPP, authMethod: 'self_signed_tls_client_auth' },
        'jwks',
        'self_signed_tls_client_auth needs a JWKS or a JWKS URI',
      ],
      [
        { ...TPP, authMethod: 'self_signed_tls_client_auth', jwks: { keys: [bareKey] } },
        'jwks',
        'self_signed_tls_client_auth needs each key of the JWKS to carry its certificate (x5c)',
      ],
      [
        { ...TPP, authMethod: 'client_secret_basic', jwks: { keys: [selfSignedKey] } },
        'jwks',
        'a JWKS is only used with private_key_jwt, tls_client_auth or self_signed_tls_client_auth',
      ],
      [
        { ...TPP, authMethod: 'client_secret_basic', senderConstraint: 'bearer' as never },
        'senderConstraint',
        'unknown sender constraint bearer (allowed: dpop, mtls)',
      ],
    ];
    const before = await count();
    for (const [input, field, message] of cases) {
      await assert.rejects(clients.create(input), (err: unknown) => {
        assert.ok(err instanceof DomainError, String(err));
        assert.equal(err.message, message);
        assert.equal(err.field, field);
        return true;
      });
    }
    assert.equal(await count(), before, 'nothing was stored');

    const { client, secret } = await clients.create({
      ...TPP,
      authMethod: 'self_signed_tls_client_auth',
      jwks: { keys: [selfSignedKey] },
      senderConstraint: 'mtls',
    });
    assert.equal(secret, undefined);
    assert.equal(client.authMethod, 'self_signed_tls_client_auth');
    assert.equal(client.senderConstraint, 'mtls');
    assert.equal(client.tlsSubject, null);
  });

  test('the admin API: tlsSubject and senderConstraint in, shown back; a bad kind is a 400 at its pointer', async () => {
    const api = adminApi(server);
    const token = await api.machineToken(['admin:clients']);
    const body = {
      ...TPP,
      authMethod: 'tls_client_auth',
      tlsSubject: { kind: 'subject_dn', value: 'CN=tpp-one,O=Fintech One,C=GB' },
      senderConstraint: 'mtls',
    };
    const created = await api.call('POST', '/clients', { token, body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.clientSecret, null);
    assert.deepEqual(created.body.client.tlsSubject, body.tlsSubject);
    assert.equal(created.body.client.senderConstraint, 'mtls');
    const shown = await api.call('GET', `/clients/${created.body.client.clientId}`, { token });
    assert.deepEqual(shown.body.tlsSubject, body.tlsSubject);

    const before = await count();
    const refused = await api.call('POST', '/clients', {
      token,
      body: { ...body, tlsSubject: { kind: 'subject', value: 'CN=x' } },
    });
    assertProblem(refused, 400, 'validation');
    assert.equal(refused.body.errors[0].pointer, '#/tlsSubject/kind');
    const noSubject = await api.call('POST', '/clients', {
      token,
      body: { ...body, tlsSubject: undefined },
    });
    assertProblem(noSubject, 400, 'validation');
    assert.match(noSubject.body.detail, /tls_client_auth needs the certificate subject/);
    assert.equal(await count(), before, 'nothing was stored');
  });

  test('dynamic registration: one tls_client_auth subject and certificate-bound tokens', async () => {
    const api = adminApi(server);
    const adminToken = await api.machineToken(['admin:clients']);
    const issue = async () =>
      (
        await api.call('POST', '/initial-access-tokens', {
          token: adminToken,
          body: { description: 'TPP onboarding', apiAccess: { [PAYMENTS]: ['payments:read'] } },
        })
      ).body.token as string;
    const register = async (body: Record<string, unknown>) => {
      const res = await fetch(server.url('/reg'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await issue()}` },
        body: JSON.stringify({
          client_name: 'Fintech Two',
          redirect_uris: [TPP_REDIRECT],
          token_endpoint_auth_method: 'tls_client_auth',
          ...body,
        }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: RFC 7591 responses
      return { status: res.status, body: (await res.json()) as any };
    };
    const registered = await register({
      tls_client_auth_san_dns: 'tpp-two.example',
      tls_client_certificate_bound_access_tokens: true,
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.equal(registered.body.tls_client_auth_san_dns, 'tpp-two.example');
    assert.equal(registered.body.tls_client_certificate_bound_access_tokens, true);
    assert.equal(registered.body.client_secret, undefined);
    const view = await server.app.services.clients.get(registered.body.client_id);
    assert.deepEqual(view?.tlsSubject, { kind: 'san_dns', value: 'tpp-two.example' });
    assert.equal(view?.senderConstraint, 'mtls');

    const before = await count();
    for (const [body, description] of [
      [
        { tls_client_auth_san_dns: 'a.example', tls_client_auth_subject_dn: 'CN=a' },
        'only one tls_client_auth certificate subject value must be provided',
      ],
      [
        {},
        'tls_client_auth_*: tls_client_auth needs the certificate subject: a subject DN or one subject alternative name',
      ],
    ] as const) {
      const refused = await register(body);
      assert.equal(refused.status, 400);
      assert.deepEqual(refused.body, {
        error: 'invalid_client_metadata',
        error_description: description,
      });
    }
    assert.equal(await count(), before, 'nothing was stored');
  });

  test('the CLI: --auth tls_client_auth with --tls-subject-dn and --sender-constraint mtls', async () => {
    const { env: dbEnv, db } = await cliEnv();
    const env = { ...dbEnv, ...PROXIED };
    try {
      const created = await runCli(
        [
          'client',
          'create',
          '--name',
          'Fintech One',
          '--grant',
          'authorization_code',
          '--redirect-uri',
          TPP_REDIRECT,
          '--auth',
          'tls_client_auth',
          '--tls-subject-dn',
          'CN=tpp-one,O=Fintech One,C=GB',
          '--sender-constraint',
          'mtls',
          '--json',
        ],
        env,
      );
      assert.equal(created.code, 0, created.stderr);
      const client = JSON.parse(created.stdout);
      assert.equal(client.clientSecret, undefined);
      assert.deepEqual(client.tlsSubject, {
        kind: 'subject_dn',
        value: 'CN=tpp-one,O=Fintech One,C=GB',
      });
      assert.equal(client.senderConstraint, 'mtls');
      const shown = await runCli(['client', 'show', client.clientId], env);
      assert.match(
        shown.stdout,
        /^tlsSubject\s+\{"kind":"subject_dn","value":"CN=tpp-one,O=Fintech One,C=GB"\}$/m,
      );
      assert.match(shown.stdout, /^senderConstraint\s+mtls$/m);

      const base = [
        'client',
        'create',
        '--name',
        'X',
        '--grant',
        'authorization_code',
        '--redirect-uri',
        TPP_REDIRECT,
      ];
      assertOneLineError(
        await runCli([...base, '--auth', 'tls_client_auth'], env),
        '--auth tls_client_auth needs exactly one of --tls-subject-dn, --tls-san-dns, --tls-san-uri, --tls-san-ip, --tls-san-email',
      );
      assertOneLineError(
        await runCli(
          [
            ...base,
            '--auth',
            'tls_client_auth',
            '--tls-san-dns',
            'a.example',
            '--tls-san-ip',
            '10.0.0.1',
          ],
          env,
        ),
        '--auth tls_client_auth needs exactly one of --tls-subject-dn, --tls-san-dns, --tls-san-uri, --tls-san-ip, --tls-san-email',
      );
      assertOneLineError(
        await runCli([...base, '--auth', 'client_secret_post', '--tls-san-dns', 'a.example'], env),
        '--tls-san-dns is only used with --auth tls_client_auth',
      );
      assertOneLineError(
        await runCli([...base, '--sender-constraint', 'bearer'], env),
        '--sender-constraint must be dpop or mtls',
      );
      const list = JSON.parse(
        (await runCli(['client', 'list', '--json'], env)).stdout,
      ) as unknown[];
      assert.equal(list.length, 2, 'the account client and the one created');
    } finally {
      await db?.drop();
    }
  });
});

describe('mutual TLS clients on a server without client certificates', () => {
  test('refused with the reason, and nothing stored', async () => {
    const server = await startTestServer();
    try {
      const before = (await server.app.services.clients.list()).length;
      for (const input of [
        {
          ...TPP,
          authMethod: 'tls_client_auth' as const,
          tlsSubject: { kind: 'san_dns' as const, value: 'a.example' },
        },
        { ...TPP, authMethod: 'client_secret_basic' as const, senderConstraint: 'mtls' as const },
      ]) {
        await assert.rejects(server.app.services.clients.create(input), {
          name: 'DomainError',
          message:
            'certificate authentication and certificate-bound tokens need mutual TLS: set TLS_CERT_FILE and TLS_KEY_FILE, or MTLS_CERTIFICATE_HEADER behind a proxy',
        });
      }
      assert.equal((await server.app.services.clients.list()).length, before);
    } finally {
      await server.close();
    }
  });
});
