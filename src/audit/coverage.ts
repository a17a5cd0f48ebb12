// For the test suite only (AUDIT_COVERAGE_DIR): notes the action of every event committed to the
// audit log, one line per event in a file per process, so test/run.js can name the kinds of
// src/audit/kinds.ts that no test ever wrote.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Returns a function noting one committed action; undefined without a directory (production). */
export function auditCoverageNote(dir: string | undefined): ((action: string) => void) | undefined {
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `kinds-${process.pid}.txt`);
  // Synchronous and small: a line per event, only while tests run.
  return (action) => appendFileSync(file, `${action}\n`);
}
