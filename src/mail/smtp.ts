// A minimal SMTP client (RFC 5321) over node:net and node:tls for Portcullis' notification mails:
// EHLO, STARTTLS when offered (or implicit TLS with smtps://), AUTH PLAIN when the URL has a
// user, MAIL FROM, RCPT TO, DATA, QUIT. One message per connection; plain-text UTF-8 bodies.
import { randomUUID } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** The Date header (the caller's clock). */
  date: Date;
}

export interface SmtpOptions {
  /** smtp://[user:password@]host[:port] (STARTTLS when offered) or smtps://... (implicit TLS). */
  url: string;
  /** Refuse to send over a connection that is not encrypted (no STARTTLS offered). */
  requireTls: boolean;
  timeoutMs?: number;
  /** Extra TLS options (tests: a CA). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
}

/** A delivery failure: the message names the step and the server's reply code, nothing secret. */
export class SmtpError extends Error {
  override name = 'SmtpError';
  constructor(
    message: string,
    /** 5xx: the server refused for good (no retry helps). */
    readonly permanent = false,
  ) {
    super(message);
  }
}

const ADDRESS = /^[^\s<>()[\]\\,;:"@]+@[^\s<>()[\]\\,;:"@]+$/;

/** Whether a mail address is safe to put in an SMTP command and a header. */
export const isMailAddress = (value: string) => value.length <= 254 && ADDRESS.test(value);

/** RFC 2047 encoded-word for a header value with non-ASCII characters; no line breaks in it. */
function headerText(value: string): string {
  const flat = value.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(flat)
    ? flat
    : `=?UTF-8?B?${Buffer.from(flat, 'utf8').toString('base64')}?=`;
}

/** The message as sent after DATA: headers, a base64 UTF-8 body, CRLF line ends. */
export function formatMessage(message: MailMessage, date: Date): string {
  const domain = message.from.split('@')[1] ?? 'localhost';
  const body = Buffer.from(message.text.replace(/\r?\n/g, '\r\n'), 'utf8').toString('base64');
  const lines = [
    `From: ${message.from}`,
    `To: ${message.to}`,
    `Subject: ${headerText(message.subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomUUID()}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    ...(body.match(/.{1,76}/g) ?? []),
  ];
  return lines.join('\r\n');
}

/** Reads SMTP replies (multi-line ones joined) from a socket. */
class ReplyReader {
  private buffer = '';
  private lines: string[] = [];
  private waiting: ((line: string | Error) => void) | undefined;
  private failure: Error | undefined;

  constructor(socket: Socket) {
    this.attach(socket);
  }

  attach(socket: Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let at = this.buffer.indexOf('\r\n');
      while (at >= 0) {
        this.push(this.buffer.slice(0, at));
        this.buffer = this.buffer.slice(at + 2);
        at = this.buffer.indexOf('\r\n');
      }
      if (this.buffer.length > 64 * 1024) this.fail(new SmtpError('SMTP reply line too long'));
    });
    socket.on('error', (err) => this.fail(new SmtpError(`SMTP connection failed: ${err.message}`)));
    socket.on('close', () => this.fail(new SmtpError('SMTP connection closed')));
  }

  private push(line: string) {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(line);
    } else this.lines.push(line);
  }

  private fail(err: Error) {
    this.failure ??= err;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(err);
    }
  }

  private nextLine(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = (v) => (v instanceof Error ? reject(v) : resolve(v));
    });
  }

  /** The next complete reply: its code and its text lines. */
  async reply(): Promise<{ code: number; lines: string[] }> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.nextLine();
      const code = Number(line.slice(0, 3));
      if (!Number.isInteger(code)) throw new SmtpError('SMTP server sent a malformed reply');
      lines.push(line.slice(4));
      if (line[3] !== '-') return { code, lines };
    }
  }
}

/** Sends one message; throws SmtpError on failure (permanent for a 5xx refusal). */
export async function sendMail(options: SmtpOptions, message: MailMessage): Promise<void> {
  if (!isMailAddress(message.from) || !isMailAddress(message.to))
    throw new SmtpError('invalid sender or recipient address', true);
  const url = new URL(options.url);
  const implicitTls = url.protocol === 'smtps:';
  if (!implicitTls && url.protocol !== 'smtp:')
    throw new SmtpError('SMTP_URL must be smtp: or smtps:', true);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port) || (implicitTls ? 465 : 25);
  const timeout = options.timeoutMs ?? 15_000;
  const tlsOptions = { servername: host, ...options.tls };

  let socket: Socket = implicitTls
    ? tlsConnect({ host, port, ...tlsOptions })
    : netConnect({ host, port });
  socket.setTimeout(timeout, () => socket.destroy(new Error('timed out')));
  let reader = new ReplyReader(socket);
  let encrypted = implicitTls;

  const expect = async (step: string, ...codes: number[]) => {
    const reply = await reader.reply();
    if (!codes.includes(reply.code))
      throw new SmtpError(`SMTP ${step} refused with ${reply.code}`, reply.code >= 500);
    return reply;
  };
  const command = async (line: string, step: string, ...codes: number[]) => {
    socket.write(`${line}\r\n`);
    return expect(step, ...codes);
  };

  try {
    await expect('greeting', 220);
    const name = hostname() || 'localhost';
    let ehlo = await command(`EHLO ${name}`, 'EHLO', 250);
    const offers = (reply: { lines: string[] }, ext: string) =>
      reply.lines.some((l) => l.toUpperCase().split(' ')[0] === ext);
    if (!encrypted && offers(ehlo, 'STARTTLS')) {
      await command('STARTTLS', 'STARTTLS', 220);
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      const secured: TLSSocket = tlsConnect({ socket, ...tlsOptions });
      await new Promise<void>((resolve, reject) => {
        secured.once('secureConnect', resolve);
        secured.once('error', (err) => reject(new SmtpError(`SMTP TLS failed: ${err.message}`)));
      });
      socket = secured;
      socket.setTimeout(timeout, () => socket.destroy(new Error('timed out')));
      reader = new ReplyReader(socket);
      encrypted = true;
      ehlo = await command(`EHLO ${name}`, 'EHLO', 250);
    }
    if (!encrypted && options.requireTls)
      throw new SmtpError('the SMTP server offers no STARTTLS: not sending in clear', true);
    if (url.username) {
      if (!encrypted && options.requireTls)
        throw new SmtpError('not sending SMTP credentials in clear', true);
      const plain = Buffer.from(
        `\0${decodeURIComponent(url.username)}\0${decodeURIComponent(url.password)}`,
      ).toString('base64');
      await command(`AUTH PLAIN ${plain}`, 'AUTH', 235);
    }
    await command(`MAIL FROM:<${message.from}>`, 'MAIL FROM', 250);
    await command(`RCPT TO:<${message.to}>`, 'RCPT TO', 250, 251);
    await command('DATA', 'DATA', 354);
    // Dot-stuffing (RFC 5321 §4.5.2); base64 bodies never start a line with a dot anyway.
    const data = formatMessage(message, message.date).replace(/^\./gm, '..');
    await command(`${data}\r\n.`, 'message', 250);
    // The message is accepted: a server that closes without answering QUIT changes nothing.
    await command('QUIT', 'QUIT', 221).catch(() => undefined);
  } finally {
    socket.end();
  }
}
