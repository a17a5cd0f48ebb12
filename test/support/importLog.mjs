// A module hook for tests: `node --import ./test/support/importLog.mjs …` appends every module
// URL the process loads to the file named by IMPORT_LOG, so a test can see what a command loaded.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';

if (process.env.IMPORT_LOG) {
  register(
    `data:text/javascript,${encodeURIComponent(`
      import { appendFileSync } from 'node:fs';
      export async function resolve(specifier, context, next) {
        const result = await next(specifier, context);
        appendFileSync(${JSON.stringify(process.env.IMPORT_LOG)}, result.url + '\\n');
        return result;
      }`)}`,
  );
  appendFileSync(process.env.IMPORT_LOG, '');
}
