// Envelope encryption of secrets at rest: each value gets its own AES-256-GCM data key, which is
// wrapped by a key-encryption key from ENCRYPTION_KEYS (newest first). The sealed string names
// the KEK that wrapped it, so KEKs rotate without downtime and rewrapping never touches the data.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptionKey } from '../config.ts';

const VERSION = 'pc1';
const WRAP_AAD = Buffer.from('portcullis:data-key');

export class SealedValueError extends Error {
  override name = 'SealedValueError';
}

export interface Sealer {
  /** Id of the KEK that seals new values. */
  readonly activeKeyId: string;
  /** Encrypts `plaintext`, bound to `context` (e.g. "clients:<id>:secret"): it opens only there. */
  seal(plaintext: string | Buffer, context: string): string;
  open(sealed: string, context: string): Buffer;
  openString(sealed: string, context: string): string;
  /** Id of the KEK that wrapped `sealed`. */
  keyIdOf(sealed: string): string;
  /** Re-wraps the data key under the active KEK; the encrypted data itself is unchanged. */
  rewrap(sealed: string): string;
}

function gcmEncrypt(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function gcmDecrypt(key: Buffer, data: Buffer, aad: Buffer): Buffer {
  if (data.length < 28) throw new SealedValueError('sealed value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
  decipher.setAAD(aad);
  decipher.setAuthTag(data.subarray(data.length - 16));
  try {
    return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
  } catch {
    throw new SealedValueError(
      'sealed value failed authentication (wrong key, context or tampered)',
    );
  }
}

export function createSealer(keys: EncryptionKey[]): Sealer {
  if (keys.length === 0) throw new SealedValueError('no encryption keys configured');
  const active = keys[0]!;
  const byId = new Map(keys.map((k) => [k.id, k.key]));

  function parse(sealed: string) {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION)
      throw new SealedValueError('not a sealed value');
    const kek = byId.get(parts[1]!);
    if (!kek) {
      throw new SealedValueError(
        `sealed with key id "${parts[1]}", which is not in ENCRYPTION_KEYS`,
      );
    }
    return {
      keyId: parts[1]!,
      kek,
      wrapped: Buffer.from(parts[2]!, 'base64url'),
      data: Buffer.from(parts[3]!, 'base64url'),
    };
  }

  const format = (keyId: string, wrapped: Buffer, data: Buffer) =>
    `${VERSION}.${keyId}.${wrapped.toString('base64url')}.${data.toString('base64url')}`;

  const sealer: Sealer = {
    activeKeyId: active.id,
    seal(plaintext, context) {
      const dataKey = randomBytes(32);
      const data = gcmEncrypt(dataKey, Buffer.from(plaintext), Buffer.from(context));
      const wrapped = gcmEncrypt(active.key, dataKey, WRAP_AAD);
      return format(active.id, wrapped, data);
    },
    open(sealed, context) {
      const { kek, wrapped, data } = parse(sealed);
      const dataKey = gcmDecrypt(kek, wrapped, WRAP_AAD);
      return gcmDecrypt(dataKey, data, Buffer.from(context));
    },
    openString(sealed, context) {
      return sealer.open(sealed, context).toString('utf8');
    },
    keyIdOf(sealed) {
      return parse(sealed).keyId;
    },
    rewrap(sealed) {
      const { keyId, kek, wrapped, data } = parse(sealed);
      if (keyId === active.id) return sealed;
      const dataKey = gcmDecrypt(kek, wrapped, WRAP_AAD);
      return format(active.id, gcmEncrypt(active.key, dataKey, WRAP_AAD), data);
    },
  };
  return sealer;
}
