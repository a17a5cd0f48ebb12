// /clients: OAuth clients. Create, list, show, replace, delete, and rotate a secret (shown once).
// Clients Portcullis itself relies on (created by "system") are read-only here. A client with
// admin API scopes is a privilege: creating, replacing or re-keying one needs admin:grant-admin
// and each of its admin scopes (see auth.ts).
import { conflict, notFound } from '../../errors.ts';
import type { ClientView } from '../../oidc/clients.ts';
import { adminApiIdentifier } from '../adminApi.ts';
import { requireGrantable } from '../auth.ts';
import {
  Client,
  ClientIdParams,
  ClientInput,
  ClientList,
  ClientSaved,
  ClientSecret,
} from '../clientSchemas.ts';
import type { AdminContext } from '../context.ts';
import { type AnyRoute, defineRoute, iso } from '../route.ts';

const TAG = 'Clients';
const SCOPE = 'admin:clients';

export const clientJson = (c: ClientView) => ({
  ...c,
  jwksUri: c.jwksUri ?? null,
  backchannel: c.backchannel
    ? {
        mode: c.backchannel.mode,
        notificationEndpoint: c.backchannel.notificationEndpoint ?? null,
        signingAlg: c.backchannel.signingAlg ?? null,
      }
    : null,
  createdAt: iso(c.createdAt),
  updatedAt: iso(c.updatedAt),
});

/** What an audit event says about a client: what it may do, never its secret. */
const summary = (c: ClientView) => ({
  name: c.name,
  grantTypes: c.grantTypes,
  authMethod: c.authMethod,
  redirectUris: c.redirectUris,
  apiAccess: c.apiAccess,
  firstParty: c.firstParty,
  minAssuranceLevel: c.minAssuranceLevel,
  rateLimit: c.rateLimit,
  // Named only when it is not the default, so default clients' events read as before.
  ...(c.profile === 'default' ? {} : { profile: c.profile }),
  // Mutual TLS facts only for the clients that have them.
  ...(c.tlsSubject ? { tlsSubject: c.tlsSubject } : {}),
  ...(c.senderConstraint ? { senderConstraint: c.senderConstraint } : {}),
  // Named only when set, so the events of every other client read as before.
  ...(c.requireSignedRequestObject ? { requireSignedRequestObject: true } : {}),
  ...(c.pkce === 'optional' ? { pkce: 'optional' } : {}),
  ...(Object.keys(c.signing).length ? { signing: c.signing } : {}),
  ...(c.backchannelLogoutUri ? { backchannelLogoutUri: c.backchannelLogoutUri } : {}),
  ...(c.frontchannelLogoutUri ? { frontchannelLogoutUri: c.frontchannelLogoutUri } : {}),
  ...(c.backchannel ? { backchannel: c.backchannel } : {}),
});

export function clientRoutes({ issuer, services }: AdminContext): AnyRoute[] {
  const { clients } = services;
  const audience = adminApiIdentifier(issuer);
  /** The admin API scopes in an API access map. */
  const adminScopesOf = (apiAccess: Record<string, string[]>) =>
    Object.hasOwn(apiAccess, audience) ? (apiAccess[audience] ?? []) : [];

  async function editable(clientId: string): Promise<ClientView> {
    const found = await clients.get(clientId);
    if (!found) throw notFound(`no client ${clientId}`);
    if (found.createdBy === 'system')
      throw conflict('this client is managed by Portcullis itself and cannot be changed');
    return found;
  }

  return [
    defineRoute({
      method: 'get',
      path: '/clients',
      operationId: 'listClients',
      summary: 'List clients (registered ones included)',
      tag: TAG,
      scope: SCOPE,
      response: ClientList,
      handler: async () => ({ clients: (await clients.list()).map(clientJson) }),
    }),
    defineRoute({
      method: 'post',
      path: '/clients',
      operationId: 'createClient',
      summary: 'Create a client; its secret, if it has one, is in the response only',
      tag: TAG,
      scope: SCOPE,
      body: ClientInput,
      response: ClientSaved,
      status: 201,
      errors: [409],
      async handler({ body, principal, audit }) {
        requireGrantable(principal, adminScopesOf(body.apiAccess));
        const { client, secret } = await clients.create(body, 'admin-api');
        await audit('client.created', { type: 'client', id: client.clientId }, summary(client));
        return { client: clientJson(client), clientSecret: secret ?? null };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/clients/{clientId}',
      operationId: 'getClient',
      summary: 'Show a client',
      tag: TAG,
      scope: SCOPE,
      params: ClientIdParams,
      response: Client,
      errors: [404],
      async handler({ params }) {
        const found = await clients.get(params.clientId);
        if (!found) throw notFound(`no client ${params.clientId}`);
        return clientJson(found);
      },
    }),
    defineRoute({
      method: 'put',
      path: '/clients/{clientId}',
      operationId: 'replaceClient',
      summary:
        'Replace what a client may do; a secret is made (and shown once) only when it needs one it lacked',
      tag: TAG,
      scope: SCOPE,
      params: ClientIdParams,
      body: ClientInput,
      response: ClientSaved,
      errors: [404, 409],
      async handler({ params, body, principal, audit }) {
        const before = await editable(params.clientId);
        // The client as replaced holds these admin scopes, under whatever credentials it gets.
        requireGrantable(principal, adminScopesOf(body.apiAccess));
        const { client, secret } = await clients.update(params.clientId, body);
        await audit(
          'client.updated',
          { type: 'client', id: client.clientId },
          { before: summary(before), after: summary(client) },
        );
        return { client: clientJson(client), clientSecret: secret ?? null };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/clients/{clientId}',
      operationId: 'deleteClient',
      summary: 'Delete a client',
      tag: TAG,
      scope: SCOPE,
      params: ClientIdParams,
      errors: [404, 409],
      async handler({ params, audit }) {
        const before = await editable(params.clientId);
        await clients.delete(params.clientId);
        await audit('client.deleted', { type: 'client', id: params.clientId }, summary(before));
        return undefined;
      },
    }),
    defineRoute({
      method: 'post',
      path: '/clients/{clientId}/secret',
      operationId: 'rotateClientSecret',
      summary: "Replace a client's secret; the new one is in the response only",
      tag: TAG,
      scope: SCOPE,
      params: ClientIdParams,
      response: ClientSecret,
      errors: [404, 409],
      async handler({ params, principal, audit }) {
        const client = await editable(params.clientId);
        // A new secret hands its admin scopes to whoever reads it.
        requireGrantable(principal, adminScopesOf(client.apiAccess));
        const secret = await clients.rotateSecret(params.clientId);
        await audit('client.secret_rotated', { type: 'client', id: params.clientId });
        return { clientId: params.clientId, clientSecret: secret };
      },
    }),
  ];
}
