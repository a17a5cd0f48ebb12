// Refused authorization_details (RFC 9396), over real HTTP: at PAR (400 JSON), at the
// authorization endpoint (the error redirected to the client) and at the token endpoint. Each
// refusal names the field at fault and writes nothing: no consent, no pushed request, no grant,
// code or token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pkce } from '../support/browserless.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  ACCOUNTS,
  accountAccess,
  PAYMENT,
  postAs,
  type RarWorld,
  REDIRECT,
  seedRar,
  written,
} from './richAuthorizationWorld.ts';

const INVALID = 'invalid_authorization_details';

/** Request bodies each refused with exactly this description. */
const REFUSED: { name: string; details: string; description: string; client?: 'reader' }[] = [
  {
    name: 'malformed JSON',
    details: '[{"type": "payment_initiation",',
    description: 'could not parse the authorization_details parameter JSON',
  },
  {
    name: 'an unknown type',
    details: JSON.stringify([{ type: 'crypto_transfer', amount: '1' }]),
    description: 'unsupported authorization details type value (authorization details index 0)',
  },
  {
    name: 'an unknown field',
    details: JSON.stringify([{ ...PAYMENT, urgency: 'high' }]),
    description: "authorization_details[0].urgency: unknown field 'urgency'",
  },
  {
    name: 'an IBAN with a wrong checksum',
    details: JSON.stringify([{ ...PAYMENT, creditorAccount: { iban: 'DE89370400440532013001' } }]),
    description:
      'authorization_details[0].creditorAccount.iban: creditorAccount.iban has a wrong checksum',
  },
  {
    name: 'a currency that is not ISO 4217',
    details: JSON.stringify([
      { ...PAYMENT, instructedAmount: { currency: 'EUX', amount: '1250.00' } },
    ]),
    description:
      "authorization_details[0].instructedAmount.currency: currency 'EUX' is not an ISO 4217 code",
  },
  {
    name: 'an amount with an exponent',
    details: JSON.stringify([
      { ...PAYMENT, instructedAmount: { currency: 'EUR', amount: '1.25e3' } },
    ]),
    description:
      'authorization_details[0].instructedAmount.amount: ' +
      "instructedAmount.amount '1.25e3' is not a decimal amount (digits with an optional decimal point, " +
      'e.g. "1250.00"; no sign, exponent or leading zeros)',
  },
  {
    name: 'an amount as a JSON number',
    details: JSON.stringify([
      { ...PAYMENT, instructedAmount: { currency: 'EUR', amount: 1250.5 } },
    ]),
    description:
      'authorization_details[0].instructedAmount.amount: instructedAmount.amount must be a string',
  },
  {
    name: 'two payments in one request',
    details: JSON.stringify([PAYMENT, { ...PAYMENT, creditorName: 'Other Ltd' }]),
    description: 'authorization_details: at most one payment_initiation per request',
  },
  {
    name: 'a type of an API the client may not access',
    details: JSON.stringify([PAYMENT]),
    description: 'authorization_details[0].type: this client may not request payment_initiation',
    client: 'reader',
  },
];

describe('refused authorization_details', () => {
  let server: TestServer;
  let world: RarWorld;

  before(async () => {
    server = await startTestServer({ env: { CACHE_SECONDS: '0' } });
    world = await seedRar(server);
  });
  after(() => server?.close());

  const authParams = (clientId: string, details: string) => {
    const { challenge } = pkce();
    return {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st4te',
      authorization_details: details,
    };
  };

  for (const r of REFUSED) {
    test(`PAR: ${r.name} → 400 ${INVALID}, nothing written`, async () => {
      const client = r.client === 'reader' ? world.reader : world.tpp;
      const before = await written(server);
      const res = await postAs(server.url('/request'), client, authParams(client.id, r.details));
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: INVALID, error_description: r.description });
      assert.deepEqual(await written(server), before);
    });

    test(`authorization endpoint: ${r.name} → ${INVALID} redirected, nothing written`, async () => {
      const client = r.client === 'reader' ? world.reader : world.tpp;
      const before = await written(server);
      const res = await fetch(
        server.url(`/auth?${new URLSearchParams(authParams(client.id, r.details))}`),
        { redirect: 'manual' },
      );
      assert.equal(res.status, 303);
      const back = new URL(res.headers.get('location')!);
      assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
      assert.equal(back.searchParams.get('error'), INVALID);
      assert.equal(back.searchParams.get('error_description'), r.description);
      assert.equal(back.searchParams.get('state'), 'st4te');
      assert.deepEqual(await written(server), before);
    });
  }

  test('a type no API declares → refused at PAR, nothing written', async () => {
    const { catalogue } = server.app.services;
    const api = (await catalogue.list()).find((a) => a.identifier === ACCOUNTS)!;
    await catalogue.update(api.id, { detailTypes: [], consentScope: null });
    try {
      const before = await written(server);
      const res = await postAs(
        server.url('/request'),
        world.tpp,
        authParams(world.tpp.id, JSON.stringify([accountAccess()])),
      );
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, {
        error: INVALID,
        error_description: 'authorization_details[0].type: no API accepts account_information',
      });
      assert.deepEqual(await written(server), before);
    } finally {
      await catalogue.update(api.id, {
        detailTypes: ['account_information'],
        consentScope: 'consents:read',
      });
    }
  });

  test('details for an API the resource parameter does not name → refused at PAR', async () => {
    const before = await written(server);
    const res = await postAs(server.url('/request'), world.tpp, {
      ...authParams(world.tpp.id, JSON.stringify([PAYMENT])),
      resource: ACCOUNTS,
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error: INVALID,
      error_description:
        'authorization_details[0].type: payment_initiation is for https://payments.api.example, which the resource parameter does not name',
    });
    assert.deepEqual(await written(server), before);
  });

  test('client credentials with authorization_details → refused, no token', async () => {
    const before = await written(server);
    const res = await postAs(server.url('/token'), world.tpp, {
      grant_type: 'client_credentials',
      resource: ACCOUNTS,
      authorization_details: JSON.stringify([accountAccess()]),
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error: INVALID,
      error_description:
        "authorization details need a person's consent: use the authorization code flow",
    });
    assert.deepEqual(await written(server), before);
  });

  test('a valid request is accepted at PAR (the refusals above are about the details)', async () => {
    const res = await postAs(
      server.url('/request'),
      world.tpp,
      authParams(world.tpp.id, JSON.stringify([PAYMENT])),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(String(res.body.request_uri), /^urn:ietf:params:oauth:request_uri:/);
  });
});
