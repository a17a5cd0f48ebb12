// Assurance levels inside the protocol: the level a request needs (from the client, the global
// switch, acr_values / an essential acr claim and the requested scopes), the login check that
// sends a weaker session to step up, the acr/amr/auth_time claims of access tokens, and the
// token endpoint's refusal of any scope above the level the grant was actually reached at.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { interactionPolicy } from 'oidc-provider';
import type { Assurance, Level } from '../mfa/assurance.ts';
import { essentialAcrsOf, type LevelDecision, requiredLevel } from '../mfa/policy.ts';
import type { Api, Catalogue } from './catalogue.ts';
import { apiAccessOf, OIDC_SCOPES } from './resources.ts';

type Params = Record<string, unknown>;
type ClientLike =
  | { clientId: string; api_access?: unknown; min_assurance_level?: unknown }
  | undefined;

const list = (v: unknown): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];

export function createAssurancePolicy({
  assurance,
  catalogue,
  requireMfa,
}: {
  assurance: Assurance;
  catalogue: Catalogue;
  requireMfa: boolean;
}) {
  /** Required level of every API scope the request asks for, on the APIs it names or implies. */
  async function scopeLevels(params: Params, client: ClientLike): Promise<number[]> {
    const scopes = String(params.scope ?? '')
      .split(' ')
      .filter((s) => s && !OIDC_SCOPES.has(s));
    if (scopes.length === 0) return [];
    const access = apiAccessOf(client as never);
    let resources = list(params.resource);
    if (resources.length === 0)
      resources = Object.keys(access).filter((r) => scopes.some((s) => access[r]?.includes(s)));
    const levels: number[] = [];
    for (const resource of resources) {
      const api = await catalogue.findByIdentifier(resource);
      for (const s of api?.scopes ?? [])
        if (scopes.includes(s.name)) levels.push(s.requiredLevel ?? 1);
    }
    return levels;
  }

  async function required(
    params: Params,
    client: ClientLike,
  ): Promise<LevelDecision & { essentialAcrs: string[] }> {
    const essentialAcrs = essentialAcrsOf(params.claims);
    const decision = requiredLevel(assurance, {
      clientMinimum:
        typeof client?.min_assurance_level === 'number' ? client.min_assurance_level : 1,
      requireMfa,
      acrValues: String(params.acr_values ?? '')
        .split(' ')
        .filter(Boolean),
      essentialAcrs,
      scopeLevels: await scopeLevels(params, client),
    });
    return { ...decision, essentialAcrs };
  }

  /**
   * The login prompt: oidc-provider's own essential-acr checks compare acr values for equality,
   * which loops when a stronger level was reached; this one compares levels instead, and also
   * covers scope levels, client minimums and the global switch.
   */
  function policy() {
    const prompts = interactionPolicy.base();
    const login = prompts.get('login')!;
    login.checks.remove('essential_acr');
    login.checks.remove('essential_acrs');
    login.checks.add(
      new interactionPolicy.Check(
        'assurance_insufficient',
        'the session does not reach the assurance level the request needs',
        async (ctx: KoaContextWithOIDC) => {
          if (!ctx.oidc.session?.accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
          const need = await required(ctx.oidc.params as Params, ctx.oidc.client as ClientLike);
          return assurance.levelOf(ctx.oidc.acr) < need.level || need.unmet
            ? interactionPolicy.Check.REQUEST_PROMPT
            : interactionPolicy.Check.NO_NEED_TO_PROMPT;
        },
      ),
    );
    return prompts;
  }

  /** The authorization code, CIBA request or refresh token a token request is redeeming, if any. */
  const sourceOf = (ctx: KoaContextWithOIDC) =>
    (ctx.oidc.entities.AuthorizationCode ??
      ctx.oidc.entities.BackchannelAuthenticationRequest ??
      ctx.oidc.entities.RotatedRefreshToken ??
      ctx.oidc.entities.RefreshToken) as
      | { acr?: string; amr?: string[]; authTime?: number }
      | undefined;

  return {
    required,
    policy,

    /** Defence in depth: never issue a scope above the level the code or refresh token records. */
    async narrowToLevel(ctx: KoaContextWithOIDC, api: Api, scopes: string[]): Promise<string[]> {
      if (ctx.oidc.route !== 'token') return scopes;
      const source = sourceOf(ctx);
      if (!source) return scopes; // client credentials: no person, no level
      const reached: Level | 0 = assurance.levelOf(source.acr);
      const levels = new Map(api.scopes.map((s) => [s.name, s.requiredLevel ?? 1]));
      return scopes.filter((s) => (levels.get(s) ?? 1) <= reached);
    },

    /** acr, amr and auth_time of the login behind a person's access token (JWT and introspection). */
    extraTokenClaims(ctx: KoaContextWithOIDC | undefined): Record<string, unknown> | undefined {
      const source = ctx?.oidc ? sourceOf(ctx) : undefined;
      if (!source?.acr) return undefined;
      return { acr: source.acr, amr: source.amr, auth_time: source.authTime };
    },
  };
}

export type AssurancePolicy = ReturnType<typeof createAssurancePolicy>;
