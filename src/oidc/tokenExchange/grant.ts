// Token exchange (RFC 8693) at the token endpoint: a resource server of one API exchanges a
// person's access token it received for a narrower token for a second API, on the person's
// behalf, carrying `act` (the exchanging client) and never outliving the token it came from.
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { AuditEventInput } from '../../audit/log.ts';
import { type Clock, epochSeconds } from '../../clock.ts';
import type { SigningAlg } from '../../config.ts';
import type { Assurance } from '../../mfa/assurance.ts';
import type { Catalogue } from '../catalogue.ts';
import { TOKEN_EXCHANGE } from '../grantTypes.ts';
import { profileOf, type ServerProfileSetting } from '../profiles.ts';
import { apiAccessOf } from '../resources.ts';
import { bindToClient } from './senderBinding.ts';
import {
  ACCESS_TOKEN_TYPE,
  createSubjectTokens,
  invalidGrant,
  type SubjectToken,
  type SubjectTokenDeps,
} from './subjectToken.ts';

export { TOKEN_EXCHANGE };

const PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'resource',
  'audience',
  'scope',
];

export interface TokenExchangeDeps extends SubjectTokenDeps {
  clock: Clock;
  catalogue: Catalogue;
  assurance: Assurance;
  alg: SigningAlg;
  fapiProfile: ServerProfileSetting;
  /** API identifier -> scopes the person's roles grant; undefined: no such active person. */
  roleScopesOf: (accountId: string) => Promise<Record<string, string[]> | undefined>;
  record: (event: AuditEventInput) => Promise<void>;
}

const invalidRequest = (d: string) => new errors.InvalidRequest(d);
const invalidTarget = (d: string) => new errors.InvalidTarget(d);
const unauthorized = (d: string) => new errors.UnauthorizedClient(d);

const listOf = (value: unknown): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];

/** The one API the new token is for: `resource` and/or `audience`, naming the same API. */
function targetOf(params: Record<string, unknown>): string {
  const named = [...new Set([...listOf(params.resource), ...listOf(params.audience)])];
  if (named.length === 0)
    throw invalidTarget('name the API the token is for with resource (or audience)');
  if (named.length > 1)
    throw invalidTarget('a token exchange issues a token for exactly one API: name only one');
  return named[0]!;
}

export function createTokenExchange(deps: TokenExchangeDeps) {
  const subjects = createSubjectTokens(deps);
  /** Claims each exchanged token carries (act, the login behind it), read at its issuance. */
  const claimsOf = new WeakMap<object, Record<string, unknown>>();

  async function handler(ctx: KoaContextWithOIDC): Promise<void> {
    const params = ctx.oidc.params as Record<string, unknown>;
    const client = ctx.oidc.client!;
    const { provider } = ctx.oidc;

    // The request itself (RFC 8693 §2.1, §2.2.2).
    if (typeof params.subject_token !== 'string' || !params.subject_token)
      throw invalidRequest('missing required parameter subject_token');
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE)
      throw invalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    if (params.actor_token !== undefined || params.actor_token_type !== undefined)
      throw invalidRequest('actor_token is not supported: the authenticated client is the actor');
    if (
      params.requested_token_type !== undefined &&
      params.requested_token_type !== ACCESS_TOKEN_TYPE
    )
      throw invalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    const targetId = targetOf(params);

    // Who may exchange: a confidential client (the grant type is refused to public ones).
    if (client.clientAuthMethod === 'none')
      throw unauthorized('a public client cannot exchange tokens');

    const subject = await subjects.verify(ctx, params.subject_token);
    const from = await deps.catalogue.findByIdentifier(subject.audience);
    if (!from?.resourceServers.includes(client.clientId))
      throw unauthorized("only a resource server of the subject token's API may exchange it");

    const to = await deps.catalogue.findByIdentifier(targetId);
    if (!to) throw invalidTarget(`unknown resource ${targetId}`);
    if (to.identifier === from.identifier)
      throw invalidTarget('the subject token is already for this API');
    const clientAllowed = apiAccessOf(client as never)[to.identifier] ?? [];
    if (clientAllowed.length === 0)
      throw invalidTarget(`client is not allowed to request tokens for ${to.identifier}`);

    const roleScopes = await deps.roleScopesOf(subject.accountId);
    if (!roleScopes) throw invalidGrant('the person of the subject token cannot be served');

    // Never wider: what the API defines, the client may ask for, the person's roles grant on it,
    // the person consented to (the grant behind the subject token), at the level they reached.
    const reached = deps.assurance.levelOf(subject.acr);
    const within = [
      clientAllowed,
      roleScopes[to.identifier] ?? [],
      subject.granted[to.identifier] ?? [],
    ].map((l) => new Set(l));
    const allowed = to.scopes
      .filter((s) => (s.requiredLevel ?? 1) <= reached && within.every((set) => set.has(s.name)))
      .map((s) => s.name);
    const requested =
      typeof params.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [];
    const refused = requested.filter((s) => !allowed.includes(s));
    if (refused.length)
      throw new errors.InvalidScope('requested scope is not allowed', refused.join(' '));
    const scopes = requested.length ? [...new Set(requested)] : allowed;
    if (scopes.length === 0)
      throw new errors.InvalidScope(`no scope of ${to.identifier} may be exchanged for`, '');

    const now = epochSeconds(deps.clock);
    const expiresIn = Math.min(to.accessTokenTtl, subject.exp - now);
    if (expiresIn <= 0)
      throw invalidGrant('the subject token is not active (unknown, expired or revoked)');

    // What the new token stands on: a grant of this client for the person, ending with it, so
    // that revoking it (account page, sign out everywhere) revokes the token.
    const grant = new provider.Grant({
      accountId: subject.accountId,
      clientId: client.clientId,
      expiresIn,
    } as never);
    for (const [api, granted] of Object.entries(subject.granted))
      if (api !== to.identifier && granted.length) grant.addResourceScope(api, granted.join(' '));
    grant.addResourceScope(to.identifier, scopes.join(' '));

    const token = new provider.AccessToken({
      accountId: subject.accountId,
      client,
      gty: 'token_exchange',
      expiresIn,
      resourceServer: {
        scope: scopes.join(' '),
        audience: to.identifier,
        accessTokenTTL: expiresIn,
        accessTokenFormat: to.tokenFormat,
        ...(to.tokenFormat === 'jwt' ? { jwt: { sign: { alg: deps.alg } } } : {}),
      },
    } as never);
    token.scope = scopes.join(' ');
    await bindToClient(ctx, token, profileOf(client as never, deps.fapiProfile), invalidRequest);
    claimsOf.set(token, tokenClaims(subject, client.clientId));

    token.grantId = await grant.save();
    ctx.oidc.entity('Grant', grant);
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();

    await deps.record({
      actor: { type: 'client', id: client.clientId },
      action: 'token.exchanged',
      target: { type: 'user', id: subject.accountId },
      outcome: 'success',
      sourceIp: ctx.ip,
      userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
      details: {
        subjectClient: subject.clientId,
        fromApi: from.identifier,
        toApi: to.identifier,
        scope: token.scope,
        bound: token.isSenderConstrained(),
      },
    });

    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: token.tokenType,
      expires_in: token.expiration,
      scope: token.scope,
    };
  }

  return {
    /** Registers the grant type with a freshly built provider. */
    register(provider: Provider): void {
      provider.registerGrantType(TOKEN_EXCHANGE, handler as never, PARAMETERS, [
        'resource',
        'audience',
      ]);
      // RFC 6749 §5.2: a client not allowed the grant type is unauthorized_client (the library
      // answers invalid_request for every grant type; only this one is corrected here).
      provider.use(async (ctx, next) => {
        await next();
        const body = ctx.body as { error?: string; error_description?: string } | undefined;
        if (
          ctx.status === 400 &&
          body?.error === 'invalid_request' &&
          body.error_description === 'requested grant type is not allowed for this client' &&
          (ctx as unknown as KoaContextWithOIDC).oidc?.params?.grant_type === TOKEN_EXCHANGE
        )
          ctx.body = { ...body, error: 'unauthorized_client' };
      });
    },
    /** For configuration.extraTokenClaims: the claims of a token issued by an exchange. */
    tokenClaims: (token: object): Record<string, unknown> | undefined => claimsOf.get(token),
  };
}

/** act (nested when the subject token already had one) and the login behind the person's token. */
function tokenClaims(subject: SubjectToken, actor: string): Record<string, unknown> {
  return {
    act: { sub: actor, ...(subject.act ? { act: subject.act } : {}) },
    ...(subject.acr ? { acr: subject.acr, amr: subject.amr, auth_time: subject.authTime } : {}),
  };
}

export type TokenExchange = ReturnType<typeof createTokenExchange>;
