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
 * then binds `token` to them. A client whose metadata or profile requires sender-constrained
 * tokens gets none without its proof or certificate: `refuse` (invalid_request) says which.
 */
export async function bindToClient(
  ctx: KoaContextWithOIDC,
  token: Bindable,
  profile: Profile,
  refuse: (description: string) => Error,
): Promise<void> {
  const { provider } = ctx.oidc;
  const client = ctx.oidc.client as unknown as {
    dpopBoundAccessTokens?: boolean;
    tlsClientCertificateBoundAccessTokens?: boolean;
  };
  const dPoP = await helpers.validateDpop(provider, ctx);
  const certificateBound = client.tlsClientCertificateBoundAccessTokens === true;
  if (
    !dPoP &&
    (client.dpopBoundAccessTokens || (profile.requireSenderConstraint && !certificateBound))
  )
    throw refuse("this client's tokens are DPoP-bound: send a DPoP proof");
  let certificate: unknown;
  if (certificateBound) {
    try {
      certificate = helpers.checkMtlsCert(provider, ctx);
    } catch {
      throw refuse("this client's tokens are certificate-bound: present its certificate");
    }
  }
  if (certificate) token.setThumbprint('x5t', certificate);
  await common.applyDpopBinding(provider, ctx, dPoP, token);
  // Defence in depth: whatever the metadata says, the profile has the last word.
  if (profile.requireSenderConstraint && !token.isSenderConstrained())
    throw refuse(
      "this client's tokens must be sender-constrained: send a DPoP proof or present its certificate",
    );
}
