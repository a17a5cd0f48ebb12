// /apis: the API catalogue, each API with its scopes, resource servers (the clients that may
// introspect its tokens) and detail types. The admin API itself is listed, read-only.
import { notFound } from '../../errors.ts';
import { type Api as ApiModel, checkResourceServerClients } from '../../oidc/catalogue.ts';
import type { AdminContext } from '../context.ts';
import { type AnyRoute, defineRoute, iso } from '../route.ts';
import { Api, ApiCreate, ApiIdParams, ApiList, ApiUpdate } from '../schemas.ts';

const TAG = 'APIs';
const SCOPE = 'admin:apis';

export function apiRoutes({ services }: AdminContext): AnyRoute[] {
  const { catalogue, clients } = services;
  /** Resource servers must be registered confidential clients; the field at fault is named. */
  const checkClients = (ids: string[] | undefined) =>
    checkResourceServerClients(ids ?? [], (id) => clients.get(id));
  const apiJson = (a: ApiModel) => ({
    ...a,
    scopes: a.scopes.map((s) => ({ ...s, requiredLevel: s.requiredLevel ?? 1 })),
    consentScope: a.consentScope ?? null,
    system: catalogue.isSystem(a.id),
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
  });
  // Audit details avoid keys containing "token": the audit log redacts those.
  const describe = (a: ApiModel) => ({
    name: a.name,
    format: a.tokenFormat,
    lifetime: a.accessTokenTtl,
    scopes: a.scopes.map((s) => ({ ...s })),
    resourceServers: a.resourceServers,
    detailTypes: a.detailTypes,
    consentScope: a.consentScope ?? null,
    public: a.public,
  });

  return [
    defineRoute({
      method: 'get',
      path: '/apis',
      operationId: 'listApis',
      summary: 'List the APIs and their scopes',
      tag: TAG,
      scope: SCOPE,
      response: ApiList,
      handler: async () => ({ apis: (await catalogue.list()).map(apiJson) }),
    }),
    defineRoute({
      method: 'post',
      path: '/apis',
      operationId: 'createApi',
      summary: 'Register an API with its scopes and resource servers',
      tag: TAG,
      scope: SCOPE,
      body: ApiCreate,
      response: Api,
      status: 201,
      errors: [409],
      async handler({ body, audit }) {
        await checkClients(body.resourceServers);
        const created = await catalogue.create(body);
        await audit('api.created', { type: 'api', id: created.identifier }, describe(created));
        return apiJson(created);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/apis/{apiId}',
      operationId: 'getApi',
      summary: 'Show an API',
      tag: TAG,
      scope: SCOPE,
      params: ApiIdParams,
      response: Api,
      errors: [404],
      async handler({ params }) {
        const found = await catalogue.get(params.apiId);
        if (!found) throw notFound('no such API');
        return apiJson(found);
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/apis/{apiId}',
      operationId: 'updateApi',
      summary:
        'Change an API: its name, token format, token lifetime, scopes, resource servers, detail types or consent scope (lists replaced whole)',
      tag: TAG,
      scope: SCOPE,
      params: ApiIdParams,
      body: ApiUpdate,
      response: Api,
      errors: [404, 409],
      async handler({ params, body, audit }) {
        const before = await catalogue.get(params.apiId);
        if (!before) throw notFound('no such API');
        if (!catalogue.isSystem(params.apiId)) await checkClients(body.resourceServers);
        const after = await catalogue.update(params.apiId, body);
        await audit(
          'api.updated',
          { type: 'api', id: after.identifier },
          { before: describe(before), after: describe(after) },
        );
        return apiJson(after);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/apis/{apiId}',
      operationId: 'deleteApi',
      summary: 'Remove an API from the catalogue',
      tag: TAG,
      scope: SCOPE,
      params: ApiIdParams,
      errors: [404, 409],
      async handler({ params, audit }) {
        const removed = await catalogue.delete(params.apiId);
        await audit('api.deleted', { type: 'api', id: removed.identifier }, describe(removed));
        return undefined;
      },
    }),
  ];
}
