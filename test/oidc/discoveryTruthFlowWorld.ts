// What the discovery truth test needs for the flows that start without a browser at the client
// or end at relying parties: a device client, CIBA clients (poll, ping, signed requests) and the
// people who approve them, a resource server that exchanges tokens, a logout receiver; and an API
// declaring an authorization detail type with a client allowed it.
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { type PingReceiver, startPingReceiver } from '../ciba/pingReceiver.ts';
import { startRelyingParty, type TestRelyingParty } from '../logout/relyingParty.ts';
import { BANK_API, type Bank, PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import type { TestServer } from '../support/server.ts';
import { EXCHANGE } from './tokenExchangeWorld.ts';

export const FRONTCHANNEL_URI = 'https://app.example/frontchannel-logout';
/** An API declaring one authorization detail type (account_information), not the other. */
export const ACCOUNT_INFO_API = 'https://account-information.api.example';

/** A person who approves CIBA requests with an app code (each their own, so no code is reused). */
export interface Approver {
  email: string;
  secret: string;
}

export interface FlowWorld {
  /** A TV app: a public client of the bank API with the device grant. */
  device: string;
  /** CIBA clients per delivery mode, with who approves their requests. */
  ciba: Record<string, { id: string; secret: string; approver: Approver }>;
  /** A private_key_jwt CIBA client that signs its requests (the world's client keys). */
  cibaSigner: string;
  /** A client allowed ACCOUNT_INFO_API, for authorization requests with details. */
  detailsClient: { id: string; method: string; secret: string };
  /** The bank API's resource server, allowed to exchange its tokens for the public API. */
  exchanger: { id: string; secret: string };
  receiver: PingReceiver;
  logoutReceiver: TestRelyingParty;
}

/** Starts what the server must reach (before it starts: ping needs its fetch). */
export async function startReceivers() {
  return { receiver: await startPingReceiver(), logoutReceiver: await startRelyingParty() };
}

export async function buildFlowWorld(
  server: TestServer,
  bank: Bank,
  publicApi: string,
  jwks: { keys: Record<string, unknown>[] },
  receivers: Awaited<ReturnType<typeof startReceivers>>,
): Promise<FlowWorld> {
  const { catalogue, clients, accounts, roles, totp } = server.app.services;
  const device = await clients.create({
    name: 'Bank TV',
    grantTypes: ['device_code'],
    authMethod: 'none',
    apiAccess: { [BANK_API]: ['accounts:read'] },
  });

  const ciba: FlowWorld['ciba'] = {};
  const secrets = {
    poll: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
    ping: 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU',
  };
  for (const [mode, secret] of Object.entries(secrets)) {
    const person = await accounts.create({
      email: `${mode}.approver@example.com`,
      password: PASSWORD,
      roles: ['customer'],
    });
    await totp.importConfirmed([{ userId: person.id, secret }]);
    const created = await clients.create({
      name: `Call centre (${mode})`,
      grantTypes: [CIBA_GRANT_TYPE],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read'] },
      backchannel:
        mode === 'ping'
          ? { mode: 'ping', notificationEndpoint: receivers.receiver.url }
          : { mode: 'poll' },
    });
    ciba[mode] = {
      id: created.client.clientId,
      secret: created.secret!,
      approver: { email: person.email, secret },
    };
  }
  const signer = await clients.create({
    name: 'Branch terminal',
    grantTypes: [CIBA_GRANT_TYPE],
    authMethod: 'private_key_jwt',
    jwks,
    apiAccess: { [BANK_API]: ['accounts:read'] },
    backchannel: { mode: 'poll' },
  });

  // Token exchange: Alice's roles grant the public API's scope, the bank API's resource server
  // may exchange a token of the bank API for one of the public API.
  await roles.create({ name: 'rates-reader', scopes: [`${publicApi} rates:read`] });
  await roles.grant(bank.alice.email, 'rates-reader');
  const exchanger = await clients.create({
    name: 'Bank API (resource server)',
    grantTypes: [EXCHANGE as never],
    authMethod: 'client_secret_basic',
    apiAccess: { [publicApi]: ['rates:read'] },
  });
  const bankApi = await catalogue.findByIdentifier(BANK_API);
  await catalogue.update(bankApi!.id, { resourceServers: [exchanger.client.clientId] });

  await catalogue.create({
    identifier: ACCOUNT_INFO_API,
    name: 'Account information',
    scopes: [
      { name: 'accounts:list', description: 'See your accounts' },
      { name: 'consents:read', description: 'Read account-access consents' },
    ],
    detailTypes: ['account_information'],
    consentScope: 'consents:read',
  });
  const details = await clients.create({
    name: 'Account aggregator',
    grantTypes: ['authorization_code'],
    redirectUris: [REDIRECT_URI],
    authMethod: 'client_secret_basic',
    apiAccess: { [ACCOUNT_INFO_API]: ['accounts:list'] },
  });

  await clients.setLogoutUris(bank.client.id, {
    backchannelLogoutUri: receivers.logoutReceiver.uri,
    frontchannelLogoutUri: FRONTCHANNEL_URI,
  });
  return {
    device: device.client.clientId,
    ciba,
    cibaSigner: signer.client.clientId,
    detailsClient: {
      id: details.client.clientId,
      method: 'client_secret_basic',
      secret: details.secret!,
    },
    exchanger: { id: exchanger.client.clientId, secret: exchanger.secret! },
    ...receivers,
  };
}
