// A tiny SMTP server (node:net) for tests: accepts every message and records the envelope and
// the data as received. No TLS, no authentication.
import { createServer, type Server } from 'node:net';

export interface ReceivedMail {
  from: string;
  to: string[];
  data: string;
}

export interface TestSmtpServer {
  port: number;
  received: ReceivedMail[];
  /** The plain-text body of a received mail (base64 or 8bit), decoded. */
  bodyOf(mail: ReceivedMail): string;
  /** The Subject header of a received mail, RFC 2047 decoded. */
  subjectOf(mail: ReceivedMail): string;
  close(): Promise<void>;
}

export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const server: Server = createServer((socket) => {
    socket.setEncoding('utf8');
    let buffer = '';
    let inData = false;
    let mail: ReceivedMail = { from: '', to: [], data: '' };
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply('220 test.smtp ESMTP ready');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          mail.data = buffer.slice(0, end).replace(/^\.\./gm, '.');
          buffer = buffer.slice(end + 5);
          inData = false;
          received.push(mail);
          mail = { from: '', to: [], data: '' };
          reply('250 2.0.0 queued');
          continue;
        }
        const at = buffer.indexOf('\r\n');
        if (at < 0) return;
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') {
          socket.write('250-test.smtp\r\n250 8BITMIME\r\n');
        } else if (verb === 'MAIL') {
          mail.from = /<([^>]*)>/.exec(line)?.[1] ?? '';
          reply('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          mail.to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 go ahead');
        } else if (verb === 'QUIT') {
          reply('221 bye');
          socket.end();
        } else {
          reply('502 5.5.2 not implemented');
        }
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const split = (mail: ReceivedMail) => {
    const at = mail.data.indexOf('\r\n\r\n');
    return { headers: mail.data.slice(0, at), body: mail.data.slice(at + 4) };
  };
  return {
    port,
    received,
    bodyOf(mail) {
      const { headers, body } = split(mail);
      return /Content-Transfer-Encoding: base64/i.test(headers)
        ? Buffer.from(body.replace(/\s/g, ''), 'base64').toString('utf8')
        : body;
    },
    subjectOf(mail) {
      const subject = /^Subject: (.*)$/m.exec(split(mail).headers)?.[1] ?? '';
      return subject.replace(/=\?UTF-8\?B\?([^?]*)\?=/gi, (_m, b64: string) =>
        Buffer.from(b64, 'base64').toString('utf8'),
      );
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
