// A software WebAuthn authenticator on node:crypto, so tests over plain HTTP can register and use
// security keys and passkeys: an ES256 key pair per credential, attestation "none", real
// authenticatorData (rpIdHash, flags, signature counter) and clientDataJSON. It can also misbehave
// as a cloned or malicious authenticator would: replay or roll back its counter, ignore
// excludeCredentials, or sign for another userHandle.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { HttpBrowser, Page } from './browserless.ts';

/** authenticatorData flags (WebAuthn Level 3, 6.1). */
const UP = 0x01;
const UV = 0x04;
const BE = 0x08;
const BS = 0x10;
const AT = 0x40;

/** A credential the authenticator holds. */
export interface SoftCredential {
  id: string;
  rpId: string;
  /** base64url of the user.id the registration options carried (the passkey's userHandle). */
  userHandle: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  counter: number;
}

export interface SoftAuthenticatorOptions {
  /** The origin the "browser" reports in clientDataJSON (the issuer's origin). */
  origin: string;
  /** Whether the user is verified (PIN or biometrics): the UV flag. Default true. */
  userVerified?: boolean;
  /** A synced passkey (backup eligible and backed up) rather than a device-bound key. Default false. */
  synced?: boolean;
  /** Fixed AAGUID (16 bytes); zeros by default, as most "none" attestations send. */
  aaguid?: Buffer;
}

const b64url = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

export class SoftAuthenticator {
  readonly credentials = new Map<string, SoftCredential>();
  private readonly origin: string;
  private readonly userVerified: boolean;
  private readonly synced: boolean;
  private readonly aaguid: Buffer;

  constructor(options: SoftAuthenticatorOptions) {
    this.origin = options.origin;
    this.userVerified = options.userVerified ?? true;
    this.synced = options.synced ?? false;
    this.aaguid = options.aaguid ?? Buffer.alloc(16);
  }

  private flags(extra: number): number {
    return UP | (this.userVerified ? UV : 0) | (this.synced ? BE | BS : 0) | extra;
  }

  private clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string): Buffer {
    return Buffer.from(
      JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false }),
      'utf8',
    );
  }

  /**
   * navigator.credentials.create(): a new credential for the options' RP and user. Like a real
   * authenticator it refuses when it holds one of the excluded credentials, unless `reuse` names
   * a credential to register again (a client that ignores excludeCredentials).
   */
  register(
    options: PublicKeyCredentialCreationOptionsJSON,
    opts: { reuse?: string } = {},
  ): RegistrationResponseJSON {
    const rpId = options.rp.id ?? new URL(this.origin).hostname;
    if (!options.pubKeyCredParams.some((p) => p.alg === -7))
      throw new Error('the relying party does not accept ES256');
    let credential: SoftCredential;
    if (opts.reuse) {
      const existing = this.credentials.get(opts.reuse);
      if (!existing) throw new Error(`no credential ${opts.reuse} to reuse`);
      credential = existing;
    } else {
      const excluded = (options.excludeCredentials ?? []).find((c) => this.credentials.has(c.id));
      if (excluded) throw new Error('InvalidStateError: this authenticator is already registered');
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      credential = {
        id: b64url(randomBytes(32)),
        rpId,
        userHandle: options.user.id,
        privateKey,
        publicKey,
        counter: 0,
      };
      this.credentials.set(credential.id, credential);
    }

    const jwk = credential.publicKey.export({ format: 'jwk' });
    // COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
    const cosePublicKey = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const idBytes = Buffer.from(credential.id, 'base64url');
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(idBytes.length);
    const authenticatorData = Buffer.concat([
      sha256(rpId),
      Buffer.from([this.flags(AT)]),
      counterBytes(credential.counter),
      this.aaguid,
      idLength,
      idBytes,
      Buffer.from(cosePublicKey),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', authenticatorData],
      ]),
    );
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge)),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
        publicKeyAlgorithm: -7,
        publicKey: b64url(credential.publicKey.export({ format: 'der', type: 'spki' })),
        authenticatorData: b64url(authenticatorData),
      },
    };
  }

  /**
   * navigator.credentials.get(): an assertion by the credential the options allow (or, with no
   * allowCredentials, the first discoverable one for the RP). The counter advances by one unless
   * `counter` sets it (the same value again replays it, a lower one rolls it back); `userHandle`
   * replaces the handle the credential was registered with.
   */
  authenticate(
    options: PublicKeyCredentialRequestOptionsJSON,
    opts: { credentialId?: string; counter?: number; userHandle?: string } = {},
  ): AuthenticationResponseJSON {
    const rpId = options.rpId ?? new URL(this.origin).hostname;
    const allowed = options.allowCredentials?.map((c) => c.id) ?? [];
    const credential = opts.credentialId
      ? this.credentials.get(opts.credentialId)
      : [...this.credentials.values()].find(
          (c) => c.rpId === rpId && (allowed.length === 0 || allowed.includes(c.id)),
        );
    if (!credential) throw new Error('NotAllowedError: no credential for this request');
    credential.counter = opts.counter ?? credential.counter + 1;

    const authenticatorData = Buffer.concat([
      sha256(rpId),
      Buffer.from([this.flags(0)]),
      counterBytes(credential.counter),
    ]);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge);
    // ES256: ECDSA P-256 with SHA-256 over authenticatorData || SHA-256(clientDataJSON), DER.
    const signature = sign(
      'sha256',
      Buffer.concat([authenticatorData, sha256(clientDataJSON)]),
      credential.privateKey,
    );
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authenticatorData),
        signature: b64url(signature),
        userHandle: opts.userHandle ?? credential.userHandle,
      },
    };
  }

  /** Sets a credential's counter, as a cloned authenticator (or a rollback) would have it. */
  setCounter(credentialId: string, counter: number): void {
    const credential = this.credentials.get(credentialId);
    if (!credential) throw new Error(`no credential ${credentialId}`);
    credential.counter = counter;
  }
}

function counterBytes(counter: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(counter);
  return bytes;
}

/**
 * Runs the WebAuthn form (data-webauthn="register" or "authenticate") of `page` as
 * views/static/webauthn.js does in a browser: posts the form for options, lets `answer` (the
 * authenticator) reply, and posts the reply with the form. Stops after the options when they are
 * refused (`result` is then undefined).
 */
export async function webauthnCeremony(
  browser: HttpBrowser,
  page: Page,
  kind: 'register' | 'authenticate',
  answer: (
    options: PublicKeyCredentialCreationOptionsJSON & PublicKeyCredentialRequestOptionsJSON,
  ) => RegistrationResponseJSON | AuthenticationResponseJSON,
  fields: Record<string, string> = {},
): Promise<{ options: Page; result?: Page }> {
  const form = new RegExp(
    `<form method="post" action="([^"]+)" data-webauthn="${kind}" data-options-url="([^"]+)">([\\s\\S]*?)</form>`,
  ).exec(page.html);
  if (!form) throw new Error(`no ${kind} form on the page:\n${page.html.slice(0, 2000)}`);
  const [, action, optionsUrl, body] = form;
  const hidden: Record<string, string> = {};
  for (const input of body!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g))
    hidden[input[1]!] = input[2]!;
  const named = /<input id="key-name" name="name"[^>]* value="([^"]*)"/.exec(body!)?.[1];
  const values = { ...hidden, ...(named !== undefined ? { name: named } : {}), ...fields };
  const origin = new URL(page.url).origin;
  const options = await browser.request(new URL(optionsUrl!, page.url).href, { form: values });
  if (options.status !== 200) return { options };
  const response = answer(JSON.parse(options.html));
  const posted = await browser.request(new URL(action!, page.url).href, {
    form: { ...values, response: JSON.stringify(response) },
  });
  return { options, result: await browser.follow(posted, origin) };
}

/** The assertion options a consent page for a payment carries in its data block. */
export function paymentAssertionOptions(page: Page): PublicKeyCredentialRequestOptionsJSON {
  const json =
    /<script type="application\/json" id="payment-assertion-options">([^<]*)<\/script>/.exec(
      page.html,
    )?.[1];
  if (!json)
    throw new Error(`no payment assertion options on the page:\n${page.html.slice(0, 2000)}`);
  return JSON.parse(json);
}

/**
 * Confirms the payment of a consent page as views/static/webauthn.js does in a browser: the
 * options from the page's data block, the authenticator's assertion posted with the approve form
 * (its hidden _csrf, consent, nonce and decision). `fields` replaces any of them.
 */
export async function confirmPayment(
  browser: HttpBrowser,
  page: Page,
  answer: (options: PublicKeyCredentialRequestOptionsJSON) => AuthenticationResponseJSON,
  fields: Record<string, string> = {},
): Promise<Page> {
  const assertion = JSON.stringify(answer(paymentAssertionOptions(page)));
  return browser.submit(page, /\/consent$/, { assertion, ...fields });
}
