// The `portcullis` command line: every command has --help, and --json where it prints data.
import { buildProgram } from './program.ts';

try {
  const program = await buildProgram(process.argv);
  await program.parseAsync(process.argv);
} catch (err) {
  // Loaded only for an error: it knows the error classes of config, database and keys.
  const { describeError } = await import('./errors.ts');
  process.stderr.write(`portcullis: ${describeError(err)}\n`);
  process.exitCode = 1;
}
