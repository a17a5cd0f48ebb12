// The admin API: JSON over HTTP under /admin/v1. The route table below is the single source of
// both the Koa router and the OpenAPI document served at /admin/v1/openapi.json.
import type Router from '@koa/router';
import type { AuditEventInput } from '../audit/log.ts';
import type { ClientCertificates } from '../http/clientCertificate.ts';
import type { KeyRing } from '../keys/signingKeys.ts';
import type { ClientLimiter } from '../limits/clientLimiter.ts';
import type { Logger } from '../log.ts';
import type { Assurance } from '../mfa/assurance.ts';
import { adminApiIdentifier } from './adminApi.ts';
import { createAdminAuth } from './auth.ts';
import type { AdminContext } from './context.ts';
import { buildOpenApi } from './openapi.ts';
import { type AnyRoute, defineRoute } from './route.ts';
import { buildAdminRouter } from './router.ts';
import { apiRoutes } from './routes/apis.ts';
import { auditRoutes } from './routes/audit.ts';
import { clientRoutes } from './routes/clients.ts';
import { consentRoutes } from './routes/consents.ts';
import { initialAccessTokenRoutes } from './routes/initialAccessTokens.ts';
import { roleRoutes } from './routes/roles.ts';
import { userRoutes } from './routes/users.ts';
import { OpenApiDocument } from './schemas.ts';

export interface AdminApiDeps extends AdminContext {
  logger: Logger;
  clockToleranceSeconds: number;
  ring: () => KeyRing;
  assurance: Assurance;
  record: (event: AuditEventInput) => Promise<void>;
  limiter?: ClientLimiter | undefined;
  /** Algorithms a DPoP proof may be signed with (the token endpoint's list). */
  dpopAlgorithms: readonly string[];
  /** Replay detection of DPoP proofs, shared by every instance (src/oidc/artifactStore.ts). */
  claimProof: (id: string, until: Date) => Promise<boolean>;
  /** Client certificates, when mTLS is set up (certificate-bound tokens need them). */
  certificates?: ClientCertificates | undefined;
}

/** Every route of the admin API, the OpenAPI document's own included. */
export function adminRouteTable(context: AdminContext): AnyRoute[] {
  const routes: AnyRoute[] = [
    ...clientRoutes(context),
    ...(context.registrationEnabled ? initialAccessTokenRoutes(context) : []),
    ...apiRoutes(context),
    ...userRoutes(context),
    ...roleRoutes(context),
    ...auditRoutes(context),
    ...consentRoutes(context),
  ];
  let document: Record<string, unknown> | undefined;
  routes.unshift(
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This OpenAPI 3.1 document',
      tag: 'Documentation',
      scope: undefined,
      response: OpenApiDocument,
      handler: async () => {
        document ??= buildOpenApi(routes, context.issuer);
        return document;
      },
    }),
  );
  return routes;
}

export function adminApi(deps: AdminApiDeps): Router {
  const auth = createAdminAuth({
    issuer: deps.issuer,
    audience: adminApiIdentifier(deps.issuer),
    clockToleranceSeconds: deps.clockToleranceSeconds,
    ring: deps.ring,
    assurance: deps.assurance,
    accounts: deps.services.accounts,
    clients: deps.services.clients,
    dpopAlgorithms: deps.dpopAlgorithms,
    claimProof: deps.claimProof,
  });
  // A DPoP proof's htu is compared with ISSUER's origin and the path: never the Host header's.
  const origin = new URL(deps.issuer).origin;
  return buildAdminRouter(adminRouteTable(deps), {
    logger: deps.logger,
    auth,
    requestOf: (ctx) => ({
      authorization: ctx.get('authorization') || undefined,
      dpop: ctx.get('dpop') || undefined,
      method: ctx.method,
      url: `${origin}${ctx.path}`,
      certificate: () => deps.certificates?.of(ctx),
    }),
    record: deps.record,
    limiter: deps.limiter,
  });
}
