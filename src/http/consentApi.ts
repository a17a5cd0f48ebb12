// The consent API of resource servers: GET /consents/{id} and POST /consents/{id}/consume, called
// with a client-credentials access token of the API that declares the consent's detail types and
// carrying that API's consent scope. Answers and refusals are problem+json (RFC 9457).
import Router from '@koa/router';
import type Koa from 'koa';
import compose from 'koa-compose';
import { Problem, problemHandler, problems } from '../admin/problem.ts';
import type { AuditEventInput } from '../audit/log.ts';
import {
  type Consent,
  ConsentStateError,
  type ConsentStatus,
  type Consents,
} from '../consents/consents.ts';
import type { ClientLimiter } from '../limits/clientLimiter.ts';
import type { Logger } from '../log.ts';
import { AccessTokenError, type AccessTokenVerifier } from '../oidc/accessTokens.ts';
import type { Api, Catalogue } from '../oidc/catalogue.ts';
import type { ClientRegistry } from '../oidc/clients.ts';
import type { ClientCertificates } from './clientCertificate.ts';
import { ConsentView, consentApiDocument } from './consentApiDoc.ts';

export const CONSENT_API_PATH = '/consents';
export const CONSENT_REALM = 'portcullis-consents';
/** The shape of a consent id (cns_ and 22 base64url characters): anything else is unknown. */
const CONSENT_ID = /^cns_[\w-]{22}$/;

export interface ConsentApiDeps {
  issuer: string;
  logger: Logger;
  verifier: AccessTokenVerifier;
  catalogue: Catalogue;
  clients: ClientRegistry;
  consents: Consents;
  record: (event: AuditEventInput) => Promise<void>;
  limiter?: ClientLimiter | undefined;
  certificates?: ClientCertificates | undefined;
}

/** Who calls: a client with a client-credentials token of `api`. */
interface Caller {
  clientId: string;
  api: Api;
}

const quoted = (value: string) => `"${value.replace(/["\\]/g, "'")}"`;
function challenge(params: Record<string, string>, scheme = 'Bearer'): string {
  const all = { realm: CONSENT_REALM, ...params };
  return `${scheme} ${Object.entries(all)
    .map(([k, v]) => `${k}=${quoted(v)}`)
    .join(', ')}`;
}

/** A refused token as a 401 problem with the challenge of this API's realm. */
function unauthorized(err: AccessTokenError, algs: readonly string[]): Problem {
  if (err.code === 'missing')
    return new Problem(401, 'unauthorized', 'Unauthorized', err.message, {
      headers: { 'WWW-Authenticate': challenge({}) },
    });
  const title = err.code === 'invalid_token' ? 'Invalid access token' : 'Invalid DPoP proof';
  const params = { error: err.code, error_description: err.message };
  return new Problem(401, err.code, title, err.message, {
    error: err.code,
    headers: {
      'WWW-Authenticate':
        err.scheme === 'DPoP'
          ? challenge({ ...params, algs: algs.join(' ') }, 'DPoP')
          : challenge(params),
    },
  });
}

const forbidden = (title: string, detail: string) =>
  new Problem(403, 'forbidden', title, detail, { error: 'insufficient_scope' });

function missingScope(scope: string): Problem {
  return new Problem(
    403,
    'insufficient_scope',
    'Insufficient scope',
    `this request needs the scope ${scope}`,
    {
      error: 'insufficient_scope',
      headers: { 'WWW-Authenticate': challenge({ error: 'insufficient_scope', scope }) },
    },
  );
}

const NOT_FOUND = () => problems.notFound('no such consent');

const STATE_TITLES: Record<ConsentStatus, string> = {
  consumed: 'Consent already consumed',
  revoked: 'Consent revoked',
  expired: 'Consent expired',
  rejected: 'Consent rejected',
  awaiting_authorisation: 'Consent not authorised',
  authorised: 'Consent not consumable',
};

/** 409 naming the status a consent is in when it cannot be consumed. */
function stateProblem(err: ConsentStateError): Problem {
  if (err.reason === 'not_consumable')
    return new Problem(409, 'consent_not_consumable', 'Consent not consumable', err.message);
  return new Problem(409, `consent_${err.status}`, STATE_TITLES[err.status], err.message);
}

/** The consent as its API sees it: only the details of that API's types, as documented. */
export function consentView(consent: Consent, api: Api) {
  const types = new Set(api.detailTypes);
  return ConsentView.parse({
    id: consent.id,
    status: consent.status,
    types: consent.types.filter((t) => types.has(t)),
    authorization_details: consent.details.filter((d) => types.has(d.type)),
    client_id: consent.clientId,
    subject: consent.accountId,
    created_at: consent.createdAt.toISOString(),
    authorised_at: consent.authorisedAt?.toISOString() ?? null,
    expires_at: consent.expiresAt?.toISOString() ?? null,
    consumed_at: consent.consumedAt?.toISOString() ?? null,
  });
}

export function consentApi(deps: ConsentApiDeps): Router {
  // A DPoP proof's htu is compared with ISSUER's origin and the path: never the Host header's.
  const origin = new URL(deps.issuer).origin;

  /** The caller: a client-credentials token of an API taking consents, with its consent scope. */
  async function authenticate(ctx: Koa.Context): Promise<Caller> {
    let token: Awaited<ReturnType<AccessTokenVerifier['verify']>>;
    try {
      token = await deps.verifier.verify(
        {
          authorization: ctx.get('authorization') || undefined,
          dpop: ctx.get('dpop') || undefined,
          method: ctx.method,
          url: `${origin}${ctx.path}`,
          certificate: () => deps.certificates?.of(ctx),
        },
        { audienceName: 'an API of this server' },
      );
    } catch (err) {
      if (err instanceof AccessTokenError) throw unauthorized(err, deps.verifier.dpopAlgorithms);
      throw err;
    }
    const client = await deps.clients.get(token.clientId);
    if (!client)
      throw unauthorized(
        new AccessTokenError('invalid_token', 'the client of this token no longer exists'),
        deps.verifier.dpopAlgorithms,
      );
    if (deps.limiter) spend(ctx, deps.limiter, token.clientId, client.rateLimit);
    if (token.sub !== token.clientId)
      throw forbidden(
        'Client credentials required',
        "the consent API takes a client's own token (client credentials), not a person's",
      );
    let api: Api | undefined;
    for (const audience of token.audiences) {
      api = await deps.catalogue.findByIdentifier(audience);
      if (api) break;
    }
    if (!api?.consentScope || api.detailTypes.length === 0)
      throw forbidden(
        'Token for another API',
        'the access token is for an API that declares no authorization detail types',
      );
    // The scope must be in the token and still allowed to the client on that API.
    const allowed = new Set(client.apiAccess[api.identifier] ?? []);
    if (!token.scopes.has(api.consentScope) || !allowed.has(api.consentScope))
      throw missingScope(api.consentScope);
    return { clientId: token.clientId, api };
  }

  function spend(
    ctx: Koa.Context,
    limiter: ClientLimiter,
    clientId: string,
    own: Parameters<ClientLimiter['take']>[1] | null,
  ) {
    const limit = own ?? limiter.defaultLimit;
    const taken = limiter.take(clientId, limit);
    if (taken.ok) return;
    limiter.refused({
      clientId,
      limit,
      endpoint: 'consent_api',
      sourceIp: ctx.ip,
      userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
    });
    throw problems.tooManyRequests(taken.retryAfterSeconds);
  }

  /** The consent, when it exists and one of its types is the caller's API's. */
  async function consentFor(ctx: Koa.Context, caller: Caller): Promise<Consent> {
    const id = String(ctx.params.id);
    const consent = CONSENT_ID.test(id) ? await deps.consents.find(id) : undefined;
    if (!consent?.types.some((t) => caller.api.detailTypes.includes(t))) throw NOT_FOUND();
    return consent;
  }

  const audit = (
    ctx: Koa.Context,
    caller: Caller,
    action: 'consent.consumed' | 'consent.consume_refused',
    consent: Consent,
    details: Record<string, unknown>,
  ) =>
    deps.record({
      actor: { type: 'client', id: caller.clientId },
      action,
      target: { type: 'consent', id: consent.id },
      outcome: action === 'consent.consumed' ? 'success' : 'failure',
      sourceIp: ctx.ip,
      userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
      details: { api: caller.api.identifier, types: consent.types, ...details },
    });

  const router = new Router();
  const errors = problemHandler(deps.logger);
  const noStore: Koa.Middleware = async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  };

  // This API's OpenAPI document (public), matched before /consents/:id.
  let document: Record<string, unknown> | undefined;
  router.get(`${CONSENT_API_PATH}/openapi.json`, async (ctx) => {
    document ??= consentApiDocument(deps.issuer);
    ctx.body = document;
  });

  router.get(
    `${CONSENT_API_PATH}/:id`,
    compose([
      errors,
      noStore,
      async (ctx) => {
        const caller = await authenticate(ctx);
        ctx.body = consentView(await consentFor(ctx, caller), caller.api);
      },
    ]),
  );

  router.post(
    `${CONSENT_API_PATH}/:id/consume`,
    compose([
      errors,
      noStore,
      async (ctx) => {
        const caller = await authenticate(ctx);
        const before = await consentFor(ctx, caller);
        let consumed: Consent;
        try {
          consumed = await deps.consents.consume(before.id, caller.clientId);
        } catch (err) {
          if (!(err instanceof ConsentStateError)) throw err;
          await audit(ctx, caller, 'consent.consume_refused', before, {
            status: err.status,
            reason: err.reason,
          });
          throw stateProblem(err);
        }
        // The same caller again gets the consent as it was consumed, and no second event.
        const again = before.status === 'consumed';
        if (!again) await audit(ctx, caller, 'consent.consumed', consumed, {});
        ctx.body = consentView(consumed, caller.api);
      },
    ]),
  );

  // Other methods on these paths: 405 with Allow, as problems.
  for (const [path, allow] of [
    [`${CONSENT_API_PATH}/:id`, 'GET'],
    [`${CONSENT_API_PATH}/:id/consume`, 'POST'],
  ] as const) {
    router.all(
      path,
      compose([
        errors,
        async () => {
          throw problems.methodNotAllowed([allow]);
        },
      ]),
    );
  }
  return router;
}
