// Development-only secrets: generated once under DATA_DIR so a fresh checkout starts without
// configuration. Production refuses to start without COOKIE_KEYS and ENCRYPTION_KEYS.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EncryptionKey } from './config.ts';

interface StoredSecrets {
  cookieKeys: string[];
  encryptionKeys: { id: string; key: string }[];
}

export function loadOrCreateDevSecrets(dataDir: string): {
  file: string;
  cookieKeys: string[];
  encryptionKeys: EncryptionKey[];
} {
  const file = resolve(join(dataDir, 'dev-secrets.json'));
  let stored: StoredSecrets;
  if (existsSync(file)) {
    stored = JSON.parse(readFileSync(file, 'utf8')) as StoredSecrets;
  } else {
    mkdirSync(dataDir, { recursive: true });
    stored = {
      cookieKeys: [randomBytes(32).toString('base64url')],
      encryptionKeys: [{ id: 'dev1', key: randomBytes(32).toString('base64') }],
    };
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return {
    file,
    cookieKeys: stored.cookieKeys,
    encryptionKeys: stored.encryptionKeys.map((k) => ({
      id: k.id,
      key: Buffer.from(k.key, 'base64'),
    })),
  };
}
