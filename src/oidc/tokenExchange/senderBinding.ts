// Token exchange: binds the exchanged token to the client that asked for it, with the protocol
// library's own DPoP (RFC 9449) and certificate (RFC 8705) checks, as its built-in grants do.
// Its helpers are not part of its typed entry point, so they are typed here, narrowly.
import type { KoaContextWithOIDC } from 'oidc-provider';
import * as commonHelpers from 'oidc-provider/lib/helpers/grant_common.js';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';
import type { Profile } from '../profiles.ts';

type Provider = KoaContextWithOIDC['oidc']['provider'];
interface DpopResult {
  thumbprint: string;
  jti: string;
}
interface Helpers {
  validateDpop(provider: Provider, ctx: KoaContextWithOIDC): Promise<DpopResult | undefined>;
  checkDpopRequired(provider: Provider, ctx: KoaContextWithOIDC, dPoP: unknown): void;
  checkMtlsCert(provider: Provider, ctx: KoaContextWithOIDC): unknown;
}
interface Common {
  applyDpopBinding(
    provider: Provider,
    ctx: KoaContextWithOIDC,
    dPoP: DpopResult | undefined,
    token: unknown,
  ): Promise<void>;
}
const helpers = grantHelpers as Helpers;
const common = commonHelpers as Common;

/** A token that can be bound to a key thumbprint or a certificate. */
interface Bindable {
  setThumbprint(prop: 'x5t' | 'jkt', input: unknown): void;
  isSenderConstrained(): boolean;
}

/**
 * Validates the request's DPoP proof (if any) and the client certificate its metadata demands,
 * then binds `token` to them. A client whose profile requires sender-constrained tokens gets
 * none without a proof or certificate: invalid_request.
 */
export async function bindToClient(
  ctx: KoaContextWithOIDC,
  token: Bindable,
  profile: Profile,
  refuse: (description: string) => Error,
): Promise<void> {
  const { provider } = ctx.oidc;
  const dPoP = await helpers.validateDpop(provider, ctx);
  const certificate = helpers.checkMtlsCert(provider, ctx);
  helpers.checkDpopRequired(provider, ctx, dPoP);
  if (certificate) token.setThumbprint('x5t', certificate);
  await common.applyDpopBinding(provider, ctx, dPoP, token);
  if (profile.requireSenderConstraint && !token.isSenderConstrained())
    throw refuse(
      "this client's tokens must be sender-constrained: send a DPoP proof or present its certificate",
    );
}
