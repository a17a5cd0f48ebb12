// Memory settings that only take effect when a process starts (glibc's malloc tunables, V8's
// young generation): `portcullis serve` relaunches itself once with them. See README, "Memory".
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Argon2 asks malloc for its whole working area (ARGON2_MEMORY_KIB, 19 MiB) on a libuv thread.
 * By default glibc keeps it in that thread's arena afterwards, so every pool thread that ever
 * hashed holds 19 MiB for good (~80 MB with four threads). Above 4 MiB an allocation gets its
 * own mapping, returned when the hash ends: at most one area per hash in flight (the hasher runs
 * one per core). Huge pages (THP, madvise) make that mapping cheap to fault in and to walk:
 * with 4 KiB pages each hash costs ~3× the CPU on a virtual machine, with huge pages ~+20%.
 */
export const MALLOC_TUNABLES = 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4194304';

/**
 * V8's young generation grows to 3 × 16 MiB under load; 8 MiB semi-spaces halve that for a few
 * more scavenges (request garbage dies young either way).
 * V8 lets its old generation grow to 4 × what survived the last major collection when the heap
 * limit is 2 GiB or more (the default on a machine of 16 GiB and up), but by 1.3–2 × below it:
 * a limit of 1 GiB, 20 × the server's live data, keeps 60–90 MB of dead objects out of the RSS
 * under load (bench/README.md, "Sixth round") at no measurable CPU cost.
 */
export const V8_FLAGS = ['--max-semi-space-size=8', '--max-old-space-size=1024'];

/** Marks the relaunched process, so it never relaunches again. */
const MARK = 'PORTCULLIS_MEMORY_SETTINGS';

/** True when the kernel can give transparent huge pages to a region that asks (madvise). */
function hugePagesAvailable() {
  try {
    return !/\[never\]/.test(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The environment of the relaunched server, or undefined when there is nothing to change:
 * MEMORY_SETTINGS=off, already relaunched, or the operator set everything themselves. The
 * operator's own GLIBC_TUNABLES and NODE_OPTIONS win (NODE_OPTIONS after ours: last flag wins).
 */
export function memoryEnvironment(env, platform = process.platform, thp = hugePagesAvailable) {
  if (env[MARK] || env.MEMORY_SETTINGS === 'off') return undefined;
  const tunables =
    env.GLIBC_TUNABLES === undefined && platform === 'linux' && thp() ? MALLOC_TUNABLES : undefined;
  const given = env.NODE_OPTIONS ?? '';
  const flags = V8_FLAGS.filter((flag) => !given.includes(flag.split('=')[0]));
  if (tunables === undefined && flags.length === 0) return undefined;
  return {
    ...env,
    [MARK]: '1',
    ...(tunables ? { GLIBC_TUNABLES: tunables } : {}),
    ...(flags.length ? { NODE_OPTIONS: [...flags, given].join(' ').trim() } : {}),
  };
}

/**
 * Runs this same command again with the memory settings and returns true once it has ended
 * (the caller does nothing else); false when no relaunch is needed. Node ≥ 22.15 replaces this
 * process (same pid, nothing left behind); older Node runs it as a child, passes on SIGINT,
 * SIGTERM and SIGHUP, and exits as it did.
 */
export async function relaunchWithMemorySettings() {
  const env = memoryEnvironment(process.env);
  if (!env) return false;
  const args = [...process.execArgv, ...process.argv.slice(1)];
  if (typeof process.execve === 'function')
    process.execve(process.execPath, [process.execPath, ...args], env);
  const child = spawn(process.execPath, args, { env, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.on(signal, () => child.kill(signal));
  const [code, signal] = await new Promise((resolve) =>
    child.once('exit', (...outcome) => resolve(outcome)),
  );
  process.exitCode = signal ? 1 : (code ?? 1);
  return true;
}
