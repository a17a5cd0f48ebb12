// CIBA's edges: the backchannel endpoint spends the client's own request limit (slow_down, 429,
// nothing recorded past it); without SMTP_URL no mail is queued and the server says so once; the
// SMTP client speaks STARTTLS when offered and refuses to send in clear when it must not.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { TLSSocket } from 'node:tls';
import * as oidc from 'openid-client';
import { manualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { createMailOutbox } from '../../src/mail/outbox.ts';
import { sendMail } from '../../src/mail/smtp.ts';
import { createMailStore } from '../../src/mail/store.ts';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { createTestPki, type TestPki } from '../support/certificates.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const API = 'https://bank.api.example';

describe('CIBA without mail, with a small request limit', () => {
  let server: TestServer;
  let rp: oidc.Configuration;
  const logs: string[] = [];

  before(async () => {
    server = await startTestServer({ logs });
    const { catalogue, clients, accounts } = server.app.services;
    await catalogue.create({
      identifier: API,
      name: 'Bank API',
      scopes: [{ name: 'accounts:read', description: 'See your accounts' }],
    });
    await accounts.create({ email: 'dave@example.com', password: PASSWORD });
    const created = await clients.create({
      name: 'Kiosk',
      grantTypes: [CIBA_GRANT_TYPE],
      authMethod: 'client_secret_basic',
      apiAccess: { [API]: ['accounts:read'] },
      rateLimit: { requests: 2, windowSeconds: 600 },
    });
    rp = await oidc.discovery(
      new URL(server.issuer),
      created.client.clientId,
      {},
      oidc.ClientSecretBasic(created.secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
  });
  after(() => server.close());

  test('mail is off: said once at start, and a request queues no mail', async () => {
    assert.equal(logs.filter((l) => l.includes('SMTP_URL is not set')).length, 1);
    await oidc.initiateBackchannelAuthentication(rp, {
      scope: 'openid',
      login_hint: 'dave@example.com',
    });
    const [mails] = await server.db.knex('mail_outbox').count<{ count: string }[]>('* as count');
    assert.equal(Number(mails!.count), 0);
    const requested = await server.app.services.audit.query({ action: 'ciba.requested' });
    assert.equal(requested.events[0]!.details.mailed, false);
  });

  test('an SMTP server that cannot be reached: retried later, then given up; the log names no one', async () => {
    const clock = manualClock(Date.now());
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const mail = createMailOutbox({
      store: createMailStore(server.db.knex),
      clock,
      logger,
      settings: { smtpUrl: 'smtp://127.0.0.1:1', from: 'bank@example.com', requireTls: false },
    });
    assert.equal(
      await mail.enqueue({
        to: 'frank@example.com',
        subject: 'Kiosk asks',
        text: 'Kiosk asks you',
      }),
      true,
    );
    const row = () =>
      server.db.knex('mail_outbox').where({ recipient: 'frank@example.com' }).first();
    assert.equal(await mail.deliverDue(), 0);
    let stored = await row();
    assert.equal(stored.attempts, 1);
    assert.equal(stored.sent_at, null);
    assert.match(stored.last_error, /^SMTP connection failed/);
    assert.equal(new Date(stored.next_attempt_at).getTime(), clock.now() + 30_000);
    // Not due yet: nothing is tried.
    assert.equal(await mail.deliverDue(), 0);
    assert.equal((await row()).attempts, 1);
    for (const wait of [30_000, 120_000, 480_000, 1_920_000]) {
      clock.advance(wait);
      await mail.deliverDue();
    }
    stored = await row();
    assert.equal(stored.attempts, 5);
    assert.equal(new Date(stored.next_attempt_at).getUTCFullYear(), 9999);
    assert.equal(lines.length, 5);
    assert.ok(lines.every((l) => !l.includes('frank@') && !l.includes('Kiosk asks')));
  });

  test('past its request limit the client gets slow_down (429) and nothing is recorded', async () => {
    await oidc.initiateBackchannelAuthentication(rp, {
      scope: 'openid',
      login_hint: 'dave@example.com',
    });
    const [before] = await server.db
      .knex('ciba_approvals')
      .count<{ count: string }[]>('* as count');
    const refused = await oidc
      .initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'dave@example.com' })
      .then(
        () => assert.fail('expected slow_down'),
        (e: { error?: string; status?: number }) => e,
      );
    assert.equal(refused.error, 'slow_down');
    assert.equal(refused.status, 429);
    const [after] = await server.db.knex('ciba_approvals').count<{ count: string }[]>('* as count');
    assert.equal(Number(after!.count), Number(before!.count));
  });
});

describe('the SMTP client', () => {
  let pki: TestPki;
  before(() => {
    pki = createTestPki();
  });
  after(() => pki.remove());

  /** An SMTP server offering STARTTLS (or not); records what arrived over TLS. */
  async function smtpServer(offerStartTls: boolean) {
    const seen = { secured: false, data: '', commands: [] as string[] };
    const server = createServer((raw) => {
      let socket: import('node:net').Socket = raw;
      let buffer = '';
      let inData = false;
      const handle = (chunk: Buffer | string) => {
        buffer += chunk.toString();
        for (;;) {
          if (inData) {
            const end = buffer.indexOf('\r\n.\r\n');
            if (end < 0) return;
            seen.data = buffer.slice(0, end);
            buffer = buffer.slice(end + 5);
            inData = false;
            socket.write('250 ok\r\n');
            continue;
          }
          const at = buffer.indexOf('\r\n');
          if (at < 0) return;
          const line = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          seen.commands.push(line.split(' ')[0]!.toUpperCase());
          const verb = line.slice(0, 4).toUpperCase();
          if (verb === 'EHLO')
            socket.write(
              offerStartTls && !seen.secured ? '250-test\r\n250 STARTTLS\r\n' : '250 test\r\n',
            );
          else if (verb === 'STAR') {
            socket.write('220 go ahead\r\n');
            socket.removeAllListeners('data');
            const secured = new TLSSocket(socket, {
              isServer: true,
              cert: pki.server.cert,
              key: pki.server.key,
            });
            secured.on('secure', () => {
              seen.secured = true;
            });
            secured.on('data', handle);
            secured.on('error', () => {});
            socket = secured;
          } else if (verb === 'DATA') {
            inData = true;
            socket.write('354 go\r\n');
          } else if (verb === 'QUIT') socket.end('221 bye\r\n');
          else socket.write('250 ok\r\n');
        }
      };
      raw.on('data', handle);
      raw.on('error', () => {});
      raw.write('220 test ready\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      seen,
      url: `smtp://localhost:${(server.address() as { port: number }).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  const message = {
    from: 'bank@example.com',
    to: 'erin@example.com',
    subject: 'Kiosk asks you to approve a sign-in',
    text: 'Kiosk asks you to approve: Till 3.',
    date: new Date(Date.UTC(2026, 11, 1, 12, 0, 0)),
  };

  test('STARTTLS when offered: the message travels encrypted', async () => {
    const smtp = await smtpServer(true);
    try {
      await sendMail({ url: smtp.url, requireTls: true, tls: { ca: pki.serverCa.cert } }, message);
      assert.equal(smtp.seen.secured, true);
      assert.deepEqual(smtp.seen.commands, [
        'EHLO',
        'STARTTLS',
        'EHLO',
        'MAIL',
        'RCPT',
        'DATA',
        'QUIT',
      ]);
      assert.match(smtp.seen.data, /^Subject: Kiosk asks you to approve a sign-in$/m);
      const body = smtp.seen.data.slice(smtp.seen.data.indexOf('\r\n\r\n') + 4);
      assert.equal(Buffer.from(body.replace(/\s/g, ''), 'base64').toString(), message.text);
    } finally {
      await smtp.close();
    }
  });

  test('no STARTTLS where TLS is required: nothing is sent', async () => {
    const smtp = await smtpServer(false);
    try {
      await assert.rejects(sendMail({ url: smtp.url, requireTls: true }, message), {
        name: 'SmtpError',
        message: 'the SMTP server offers no STARTTLS: not sending in clear',
        permanent: true,
      });
      assert.deepEqual(smtp.seen.commands, ['EHLO']);
      assert.equal(smtp.seen.data, '');
    } finally {
      await smtp.close();
    }
  });

  test('a header cannot be injected through an address', async () => {
    await assert.rejects(
      sendMail(
        { url: 'smtp://127.0.0.1:1', requireTls: false },
        { ...message, to: 'erin@example.com\r\nBcc: x@example.com' },
      ),
      { name: 'SmtpError', message: 'invalid sender or recipient address' },
    );
  });
});
