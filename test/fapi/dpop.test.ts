// fapi2-security-profile-final-dpop-negative-tests and the DPoP binding modules of the FAPI 2.0
// Security Profile test plan: every malformed, misdirected, replayed or foreign proof is refused at
// the token endpoint and at userinfo (the protected resource), a DPoP-bound token is no Bearer
// token, proofs 10 s either side of now are accepted, and dpop_jkt binds the code to one key.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertError,
  dpopProof,
  type JwtOverrides,
  now,
  type Reply,
  signingKey,
  thumbprint,
  tokenRows,
} from '../support/fapi.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  codeFor,
  redeemForm,
  refusedPush,
  SETUPS,
  seedWorld,
  token,
  userinfo,
  type World,
} from './thirdParty.ts';

/** Each negative of the DPoP proof: what is changed, and how the server must answer. */
interface ProofCase {
  name: string;
  change: JwtOverrides & { key?: 'rsa' | 'private-jwk' };
  description: string;
}

const KEY_BINDING = 'invalid DPoP key binding';
const PROOF_CASES: ProofCase[] = [
  { name: "'typ' missing", change: { header: { typ: undefined } }, description: KEY_BINDING },
  { name: "'typ' not dpop+jwt", change: { header: { typ: 'JWT' } }, description: KEY_BINDING },
  { name: "'alg' missing", change: { header: { alg: undefined } }, description: KEY_BINDING },
  { name: "'jwk' missing", change: { header: { jwk: undefined } }, description: KEY_BINDING },
  {
    name: "'jwk' holding the private key",
    change: { key: 'private-jwk' },
    description: KEY_BINDING,
  },
  {
    name: "'jti' missing",
    change: { claims: { jti: undefined } },
    description: 'DPoP proof must have a jti string property',
  },
  {
    name: "'htm' missing",
    change: { claims: { htm: undefined } },
    description: 'DPoP proof htm mismatch',
  },
  {
    name: "'htu' missing",
    change: { claims: { htu: undefined } },
    description: 'DPoP proof htu mismatch',
  },
  {
    name: "'iat' missing",
    change: { claims: { iat: undefined } },
    description: 'DPoP proof must have a iat number property',
  },
  { name: 'alg none', change: { signAs: 'none' }, description: KEY_BINDING },
  {
    name: 'signed with RS256',
    change: { key: 'rsa', signAs: 'RS256' },
    description: KEY_BINDING,
  },
  {
    name: "a wrong 'htm' (PUT)",
    change: { claims: { htm: 'PUT' } },
    description: 'DPoP proof htm mismatch',
  },
  {
    name: "'htu' of another URL",
    change: { claims: { htu: 'https://elsewhere.example/token' } },
    description: 'DPoP proof htu mismatch',
  },
];

for (const setup of SETUPS) {
  describe(`FAPI 2.0 Security Profile: DPoP (${setup.name})`, () => {
    let server: TestServer;
    let w: World;
    before(async () => {
      server = await startTestServer({ env: setup.env });
      w = await seedWorld(server, { fapi2: setup.fapi2 });
    });
    after(() => server.close());

    const tokens = () => tokenRows(server, w.client.id);

    /** A proof by the client's DPoP key for `htm` `htu`, changed as a case says. */
    function proof(htm: string, htu: string, change: ProofCase['change'], accessToken?: string) {
      // RS256 needs an RSA key: a fresh one (DPoP keys are not registered anywhere).
      const key = change.key === 'rsa' ? signingKey('RS256') : w.client.dpop;
      const header =
        change.key === 'private-jwk'
          ? { jwk: w.client.dpop.privateJwk, ...change.header }
          : change.header;
      return dpopProof(key, htm, htu, { ...change, header, accessToken });
    }

    /** Redeems a fresh code with `dpop` as the DPoP header; asserts no token was issued. */
    async function redeemWithProof(dpop: string | null): Promise<Reply> {
      const { code, verifier } = await codeFor(w);
      const before = await tokens();
      const r = await token(w, redeemForm(code, verifier), { dpop });
      assert.equal(await tokens(), before, 'no token');
      return r;
    }

    for (const c of PROOF_CASES) {
      test(`fapi2-security-profile-final-dpop-negative-tests, token endpoint: a proof with ${c.name} is refused`, async () => {
        const r = await redeemWithProof(proof('POST', server.url('/token'), c.change));
        assertError(r, 400, 'invalid_dpop_proof', c.description);
      });
    }

    test('fapi2-security-profile-final-dpop-negative-tests, token endpoint: a bad signature is refused', async () => {
      const good = proof('POST', server.url('/token'), {});
      const [h, p] = good.split('.');
      const forged = `${h}.${p}.${proof('POST', server.url('/token'), {}).split('.')[2]}`;
      assertError(await redeemWithProof(forged), 400, 'invalid_dpop_proof', KEY_BINDING);
    });

    for (const [label, offset] of [
      ['one hour in the past', -3600],
      ['one hour in the future', 3600],
    ] as const) {
      test(`fapi2-security-profile-final-dpop-negative-tests, token endpoint: 'iat' ${label} is refused (a nonce is offered)`, async () => {
        const r = await redeemWithProof(
          proof('POST', server.url('/token'), { claims: { iat: now() + offset } }),
        );
        assertError(
          r,
          400,
          'use_dpop_nonce',
          'DPoP proof iat is not recent enough, use a DPoP nonce instead',
        );
        assert.ok(r.headers.get('dpop-nonce'), 'a DPoP-Nonce to retry with');
      });
    }

    for (const [module, offset] of [
      ['fapi2-security-profile-final-ensure-dpopproof-with-iat-10seconds-before-succeeds', -10],
      ['fapi2-security-profile-final-ensure-dpopproof-with-iat-10seconds-after-succeeds', 10],
    ] as const) {
      test(`${module}: a proof with iat ${offset} s is accepted`, async () => {
        const { code, verifier } = await codeFor(w);
        const r = await token(w, redeemForm(code, verifier), {
          dpop: proof('POST', server.url('/token'), { claims: { iat: now() + offset } }),
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.token_type, 'DPoP');
      });
    }

    test('fapi2-security-profile-final-dpop-negative-tests, token endpoint: a replayed proof is refused', async () => {
      const replayed = proof('POST', server.url('/token'), {});
      const { code, verifier } = await codeFor(w);
      const first = await token(w, redeemForm(code, verifier), { dpop: replayed });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const r = await redeemWithProof(replayed);
      assertError(r, 400, 'invalid_grant', 'grant request is invalid');
    });

    test("fapi2-security-profile-final-dpop-negative-tests, token endpoint: 'htu' with a query and fragment still matches", async () => {
      const { code, verifier } = await codeFor(w);
      const r = await token(w, redeemForm(code, verifier), {
        dpop: proof('POST', `${server.url('/token')}?x=1#y`, {}),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });

    describe('at userinfo, the protected resource', () => {
      let accessToken: string;
      before(async () => {
        const { code, verifier } = await codeFor(w, {
          params: { scope: 'openid', resource: undefined },
        });
        const { resource: _none, ...form } = redeemForm(code, verifier);
        const r = await token(w, form);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.token_type, 'DPoP');
        accessToken = r.body.access_token;
      });

      const meUrl = () => server.url('/me');
      const call = (dpop?: string, scheme = 'DPoP') => userinfo(w, accessToken, scheme, dpop);

      test('the token works with a fresh proof, its ath and the DPoP scheme', async () => {
        const r = await call(proof('GET', meUrl(), {}, accessToken));
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.sub, w.person.id);
      });

      test('fapi2-security-profile-final-access-token-type-header-case-sensitivity: the scheme is case-insensitive', async () => {
        const r = await call(proof('GET', meUrl(), {}, accessToken), 'dpop');
        assert.equal(r.status, 200, JSON.stringify(r.body));
      });

      test('fapi2-security-profile-final-check-dpop-proof-nbf-exp: proofs with nbf and exp are accepted', async () => {
        const claims = { nbf: now(), exp: now() + 300 };
        const r = await call(proof('GET', meUrl(), { claims }, accessToken));
        assert.equal(r.status, 200, JSON.stringify(r.body));
      });

      for (const offset of [-10, 10]) {
        test(`userinfo accepts a proof with iat ${offset} s`, async () => {
          const r = await call(
            proof('GET', meUrl(), { claims: { iat: now() + offset } }, accessToken),
          );
          assert.equal(r.status, 200, JSON.stringify(r.body));
        });
      }

      for (const c of PROOF_CASES) {
        test(`fapi2-security-profile-final-dpop-negative-tests, userinfo: a proof with ${c.name} is refused`, async () => {
          const before = await tokens();
          const r = await call(proof('GET', meUrl(), c.change, accessToken));
          assertError(r, 401, 'invalid_dpop_proof', c.description);
          assert.equal(await tokens(), before);
        });
      }

      test("fapi2-security-profile-final-dpop-negative-tests, userinfo: 'ath' missing or wrong is refused", async () => {
        const missing = await call(proof('GET', meUrl(), {}));
        assertError(missing, 401, 'invalid_dpop_proof', 'DPoP proof ath mismatch');
        const wrong = await call(proof('GET', meUrl(), { claims: { ath: 'x'.repeat(43) } }));
        assertError(wrong, 401, 'invalid_dpop_proof', 'DPoP proof ath mismatch');
      });

      test('fapi2-security-profile-final-dpop-negative-tests, userinfo: a replayed proof is refused', async () => {
        const once = proof('GET', meUrl(), {}, accessToken);
        assert.equal((await call(once)).status, 200);
        assertError(await call(once), 401, 'invalid_token', 'invalid token provided');
      });

      test('fapi2-security-profile-final-dpop-negative-tests, userinfo: a proof by another key is refused', async () => {
        const other = dpopProof(signingKey('ES256'), 'GET', meUrl(), { accessToken });
        assertError(await call(other), 401, 'invalid_token', 'invalid token provided');
      });

      test('fapi2-security-profile-final-dpop-negative-tests, userinfo: a Bearer downgrade is refused', async () => {
        assertError(
          await call(undefined, 'Bearer'),
          401,
          'invalid_token',
          'invalid token provided',
        );
        // With a proof beside it the Bearer scheme is a malformed request (RFC 9449 §7.1).
        assertError(
          await call(proof('GET', meUrl(), {}, accessToken), 'Bearer'),
          400,
          'invalid_request',
          'authorization header scheme must be `DPoP` when DPoP is used',
        );
      });

      test('fapi2-security-profile-final-dpop-negative-tests, userinfo: the DPoP scheme without a proof is refused', async () => {
        assertError(await call(undefined), 400, 'invalid_request', '`DPoP` header not provided');
      });
    });

    describe('dpop_jkt: the code bound to one key', () => {
      test('fapi2-security-profile-final-ensure-mismatched-dpop-jkt-fails: PAR with dpop_jkt of another key than its proof', async () => {
        const other = signingKey('ES256');
        const pushed = await refusedPush(w, {
          params: { dpop_jkt: thumbprint(other) },
          headers: { dpop: dpopProof(w.client.dpop, 'POST', server.url('/request')) },
        });
        assertError(
          pushed.reply,
          400,
          'invalid_request',
          'DPoP proof key thumbprint does not match dpop_jkt',
        );
        assert.equal(pushed.requestUri, undefined);
      });

      test('fapi2-security-profile-final-ensure-dpop-auth-code-binding-success: dpop_jkt, then a proof of that key', async () => {
        const { code, verifier } = await codeFor(w, {
          params: { dpop_jkt: thumbprint(w.client.dpop) },
        });
        const r = await token(w, redeemForm(code, verifier));
        assert.equal(r.status, 200, JSON.stringify(r.body));
      });

      test('fapi2-security-profile-final-ensure-dpopproof-at-par-endpoint-binding-success', async () => {
        const { code, verifier } = await codeFor(w, {
          headers: { dpop: dpopProof(w.client.dpop, 'POST', server.url('/request')) },
        });
        const r = await token(w, redeemForm(code, verifier));
        assert.equal(r.status, 200, JSON.stringify(r.body));
      });

      for (const [module, bind] of [
        [
          'fapi2-security-profile-final-ensure-token-endpoint-fails-with-mismatched-dpop-jkt',
          'jkt',
        ],
        [
          'fapi2-security-profile-final-ensure-token-endpoint-fails-with-mismatched-dpop-proof-jkt',
          'proof',
        ],
      ] as const) {
        test(`${module}: a code bound by ${bind === 'jkt' ? 'dpop_jkt' : 'a proof at PAR'} refuses another key, and no key`, async () => {
          const bound = () =>
            codeFor(
              w,
              bind === 'jkt'
                ? { params: { dpop_jkt: thumbprint(w.client.dpop) }, newSession: true }
                : {
                    headers: { dpop: dpopProof(w.client.dpop, 'POST', server.url('/request')) },
                    newSession: true,
                  },
            );
          const before = await tokens();
          const first = await bound();
          const r = await token(w, redeemForm(first.code, first.verifier), {
            dpop: dpopProof(signingKey('ES256'), 'POST', server.url('/token')),
          });
          assertError(r, 400, 'invalid_grant', 'grant request is invalid');
          const second = await bound();
          const none = await token(w, redeemForm(second.code, second.verifier), { dpop: null });
          assertError(none, 400, 'invalid_grant', 'grant request is invalid');
          assert.equal(await tokens(), before, 'no token');
        });
      }
    });
  });
}
