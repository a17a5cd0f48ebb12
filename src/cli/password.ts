// Reads a password for the CLI: from a hidden prompt on a terminal, or from stdin when piped.
// Never from an argument: arguments end up in shell history and process listings.
import { createInterface } from 'node:readline';
import { CliError } from './output.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline (echo, a here-string) is not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as {
      _writeToOutput: (s: string) => void;
      output: NodeJS.WritableStream;
    };
    let prompted = false;
    output._writeToOutput = (s: string) => {
      // Show the question once; echo nothing of what is typed.
      if (!prompted) {
        output.output.write(s);
        prompted = true;
      }
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

export async function readPassword({ confirm }: { confirm: boolean }): Promise<string> {
  if (!process.stdin.isTTY) {
    const password = await readStdin();
    if (!password)
      throw new CliError('no password on stdin (pipe it in, or run in a terminal to be asked)');
    return password;
  }
  const password = await promptHidden('Password: ');
  if (confirm && (await promptHidden('Password again: ')) !== password)
    throw new CliError('the two passwords differ');
  if (!password) throw new CliError('the password is empty');
  return password;
}
