// The consent page: which application asks for what, per API, in words people read. A person
// can only grant, on an API, the scopes their roles give on that API; the rest is refused (and
// not asked for again).
// First-party clients skip the page: the same decision is made without asking. Requests with
// authorization_details are shown by detailsConsent.ts.
import type Koa from 'koa';
import type { ApiScopes } from '../accounts/roles.ts';
import {
  type ConsentDecision,
  InteractionNotFound,
  type PendingInteraction,
} from '../oidc/bridge.ts';
import type { Api } from '../oidc/catalogue.ts';
import { CsrfError, type InteractionDeps, renderPage, requestOrigin } from './context.ts';
import { consentFormBinding, detailsConsent, type ScopesView } from './detailsConsent.ts';
import { readForm } from './forms.ts';
import { IDENTITY_TEXT } from './scopeText.ts';

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

/**
 * What will be granted and refused, given what the person's roles allow on each API (API
 * identifier -> scopes): a scope is granted on an API only when a role gives it on that API.
 */
export function decideConsent(
  details: ConsentDetails,
  roleScopes: ApiScopes,
): ConsentDecision & { unavailable: string[] } {
  const grantResourceScopes: Record<string, string[]> = {};
  const rejectResourceScopes: Record<string, string[]> = {};
  const unavailable: string[] = [];
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    const held = new Set((Object.hasOwn(roleScopes, resource) && roleScopes[resource]) || []);
    grantResourceScopes[resource] = scopes.filter((s) => held.has(s));
    rejectResourceScopes[resource] = scopes.filter((s) => !held.has(s));
    unavailable.push(...rejectResourceScopes[resource]);
  }
  return {
    grantOidcScopes: details.missingOIDCScope ?? [],
    rejectOidcScopes: [],
    grantOidcClaims: details.missingOIDCClaims ?? [],
    grantResourceScopes,
    rejectResourceScopes,
    unavailable: [...new Set(unavailable)],
  };
}

export function consentPage(deps: InteractionDeps) {
  const { views, csrf, accounts, catalogue } = deps;

  async function decision(i: PendingInteraction) {
    // The person with their roles' scopes: read ahead with the step (src/db/aheadReads.ts).
    const access = await accounts.withScopes(i.session!.accountId);
    return decideConsent(i.prompt.details as ConsentDetails, access?.scopes ?? {});
  }

  async function approve(ctx: Koa.Context, i: PendingInteraction, how: 'approved' | 'first_party') {
    const d = await decision(i);
    await deps.record({
      actor: { type: 'user', id: i.session!.accountId },
      action: 'consent.given',
      target: { type: 'client', id: i.client.clientId },
      outcome: 'success',
      ...requestOrigin(ctx),
      details: {
        how,
        scopes: d.grantOidcScopes,
        resources: d.grantResourceScopes,
        refused: Object.fromEntries(
          Object.entries(d.rejectResourceScopes).filter(([, scopes]) => scopes.length > 0),
        ),
      },
    });
    await deps.bridge.finishConsent(ctx, i, d);
  }

  /** What the scope part of the page shows: identity, scopes per API, what cannot be granted. */
  async function view(i: PendingInteraction): Promise<ScopesView> {
    // The person and their roles' scopes in one statement (src/accounts/store.ts).
    const access = await accounts.withScopes(i.session!.accountId);
    const d = decideConsent(i.prompt.details as ConsentDetails, access?.scopes ?? {});
    const user = access?.user;
    const apis: ScopesView['apis'] = [];
    for (const [resource, scopes] of Object.entries(d.grantResourceScopes)) {
      if (scopes.length === 0) continue;
      const api: Api | undefined = await catalogue.findByIdentifier(resource);
      const described = new Map(api?.scopes.map((s) => [s.name, s.description]));
      apis.push({
        name: api?.name ?? resource,
        scopes: scopes.map((s) => ({ name: s, description: described.get(s) ?? s })),
      });
    }
    return {
      clientName: i.client.name,
      email: user?.email ?? '',
      identity: d.grantOidcScopes.map((s) => IDENTITY_TEXT[s]).filter((s): s is string => !!s),
      apis,
      unavailable: d.unavailable,
    };
  }

  const details = detailsConsent(deps, { view, decision });
  const hasDetails = (i: PendingInteraction) => (i.authorizationDetails?.length ?? 0) > 0;

  async function show(ctx: Koa.Context, i: PendingInteraction): Promise<void> {
    if (!i.session) throw new InteractionNotFound('Sign in first.', 'error.signInFirst');
    // Details (a payment, account access) are always shown, even to a first-party client.
    if (hasDetails(i)) return details.show(ctx, i);
    if (i.client.firstParty) return approve(ctx, i, 'first_party');
    renderPage(ctx, views, 'consent', {
      uid: i.uid,
      ...(await view(i)),
      csrf: csrf.token(i.uid, 'consent'),
    });
  }

  async function submit(ctx: Koa.Context): Promise<void> {
    const form = await readForm(ctx);
    const i = await deps.bridge.details(ctx);
    const binding = hasDetails(i) ? consentFormBinding(i.uid, form.consent) : i.uid;
    if (!csrf.verify(binding, 'consent', form._csrf)) throw new CsrfError();
    if (i.prompt.name !== 'consent' || !i.session) {
      return renderPage(
        ctx,
        views,
        'error',
        { title: 'error.title', message: 'consent.error.complete' },
        400,
      );
    }
    if (hasDetails(i)) return details.submit(ctx, i, form);
    if (form.decision === 'approve') return approve(ctx, i, 'approved');
    await deps.record({
      actor: { type: 'user', id: i.session.accountId },
      action: 'consent.denied',
      target: { type: 'client', id: i.client.clientId },
      outcome: 'success',
      ...requestOrigin(ctx),
    });
    await deps.bridge.abort(ctx, 'access_denied', 'the user denied the request');
  }

  return { show, submit };
}
