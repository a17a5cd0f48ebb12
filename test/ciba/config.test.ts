// The CIBA and mail settings: SMTP_URL and MAIL_FROM checked with one-line errors, mail never in
// clear in production unless the SMTP server is on loopback, expiries bounded.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';

const production = {
  NODE_ENV: 'production',
  ISSUER: 'https://auth.example.com',
  DATABASE_URL: 'postgres://db.internal/portcullis',
  COOKIE_KEYS: randomBytes(32).toString('base64url'),
  ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

function rejects(env: Record<string, string>, message: string) {
  assert.throws(
    () => loadConfig(env),
    (err: Error) => err instanceof ConfigError && err.message === message,
  );
}

describe('CIBA and mail settings', () => {
  test('defaults: no mail, a sender named after the issuer, five and ten minutes', () => {
    const config = loadConfig(production);
    assert.deepEqual(config.mail, {
      smtpUrl: undefined,
      from: 'portcullis@auth.example.com',
      sendIntervalSeconds: 10,
      requireTls: false,
    });
    assert.deepEqual(config.ciba, { defaultExpirySeconds: 300, maxExpirySeconds: 600 });
  });

  test('production never mails in clear to a remote server; loopback may', () => {
    assert.equal(
      loadConfig({ ...production, SMTP_URL: 'smtp://mail.example:587' }).mail.requireTls,
      true,
    );
    assert.equal(
      loadConfig({ ...production, SMTP_URL: 'smtp://127.0.0.1:25' }).mail.requireTls,
      false,
    );
    assert.equal(
      loadConfig({ NODE_ENV: 'test', SMTP_URL: 'smtp://mail.example:25' }).mail.requireTls,
      false,
    );
  });

  test('bad values: one line naming the variable', () => {
    rejects(
      { ...production, SMTP_URL: 'https://mail.example' },
      'Invalid configuration: SMTP_URL must be an smtp:// or smtps:// URL',
    );
    rejects(
      { ...production, MAIL_FROM: 'Bank <bank@example.com>' },
      'Invalid configuration: MAIL_FROM must be a plain mail address',
    );
    rejects(
      { ...production, CIBA_MAX_EXPIRY_SECONDS: '7200' },
      'Invalid configuration: CIBA_MAX_EXPIRY_SECONDS must be at most 3600',
    );
  });

  test('a default expiry above the maximum is cut to it', () => {
    const config = loadConfig({
      ...production,
      CIBA_DEFAULT_EXPIRY_SECONDS: '900',
      CIBA_MAX_EXPIRY_SECONDS: '120',
    });
    assert.deepEqual(config.ciba, { defaultExpirySeconds: 120, maxExpirySeconds: 120 });
  });
});
