// Summarises V8 CPU profiles from `npm run bench -- --profile`: busy time (idle excluded) by
// package or source area and by function, or two profiles compared in µs per request.
//   node --import tsx bench/profile.ts PROFILE [top]
//   node --import tsx bench/profile.ts PROFILE REQUESTS OTHER_PROFILE OTHER_REQUESTS [top]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The area a script belongs to: an npm package, a folder of src/, or a V8/Node internal. */
export function areaOf(url: string): string {
  if (!url) return '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const src = /\/(src|bench)\/(.+)$/.exec(url);
  if (src) return `${src[1]}/${src[2]!.split('/')[0]}`;
  return url.replace(/^file:\/\//, '');
}

const label = (n: ProfileNode) => {
  const where = n.callFrame.url
    ? `${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')}:${n.callFrame.lineNumber + 1}`
    : '(native)';
  return `${n.callFrame.functionName || '(anonymous)'} ${where}`;
};

export function summarise(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const idle = [...self].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)');
  const idleUs = idle.reduce((a, [, us]) => a + us, 0);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const busy = total - idleUs;

  const areas = new Map<string, number>();
  const selfByFn = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') continue;
    const area = areaOf(node.callFrame.url);
    areas.set(area, (areas.get(area) ?? 0) + us);
    selfByFn.set(label(node), (selfByFn.get(label(node)) ?? 0) + us);
  }

  // Inclusive time per function, counted once per stack even when it recurses.
  const inclusiveByFn = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id)!;
    let us = self.get(id) ?? 0;
    const name = label(node);
    const fresh = !onStack.has(name);
    if (fresh) onStack.add(name);
    for (const child of node.children ?? []) us += walk(child, onStack);
    if (fresh) {
      onStack.delete(name);
      if (node.callFrame.functionName !== '(idle)' && node.callFrame.functionName !== '(root)')
        inclusiveByFn.set(name, (inclusiveByFn.get(name) ?? 0) + us);
    }
    return us;
  };
  walk(profile.nodes[0]!.id, new Set());

  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    total,
    busy,
    areas: sorted(areas),
    self: sorted(selfByFn),
    inclusive: sorted(inclusiveByFn),
  };
}

type Summary = ReturnType<typeof summarise>;

const load = (file: string) => summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile);

function printOne(s: Summary, top: number): void {
  const pct = (us: number) => `${((100 * us) / s.busy).toFixed(1).padStart(5)}%`;
  const out = (title: string, rows: [string, number][]) => {
    process.stdout.write(`\n${title} (% of busy time):\n`);
    for (const [name, us] of rows.slice(0, top)) process.stdout.write(`${pct(us)}  ${name}\n`);
  };
  process.stdout.write(
    `sampled ${(s.total / 1e6).toFixed(1)}s, busy ${(s.busy / 1e6).toFixed(1)}s\n`,
  );
  out('self time by area', s.areas);
  out('self time by function', s.self);
  out('inclusive time by function', s.inclusive);
}

/** Busy µs per request of two profiles, area by area and function by function, largest gap first. */
function printComparison(
  a: Summary,
  aRequests: number,
  b: Summary,
  bRequests: number,
  top: number,
) {
  const rows = (x: [string, number][], y: [string, number][]) => {
    const xm = new Map(x);
    const ym = new Map(y);
    return [...new Set([...xm.keys(), ...ym.keys()])]
      .map((k) => [k, (xm.get(k) ?? 0) / aRequests, (ym.get(k) ?? 0) / bRequests] as const)
      .sort((p, q) => q[1] - q[2] - (p[1] - p[2]))
      .slice(0, top);
  };
  const n = (v: number) => v.toFixed(1).padStart(7);
  process.stdout.write(
    `busy µs/request: first ${n(a.busy / aRequests)}, second ${n(b.busy / bRequests)}\n`,
  );
  for (const [title, x, y] of [
    ['area', a.areas, b.areas],
    ['function (self)', a.self, b.self],
  ] as const) {
    process.stdout.write(`\n   gap    first   second  ${title}\n`);
    for (const [k, p, q] of rows(x, y))
      process.stdout.write(`${n(p - q)}  ${n(p)}  ${n(q)}  ${k}\n`);
  }
}

// profile.ts FILE [top]  |  profile.ts FILE REQUESTS OTHER_FILE OTHER_REQUESTS [top]
const args = process.argv.slice(2);
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && args[0]) {
  if (args.length >= 4) {
    printComparison(
      load(args[0]),
      Number(args[1]),
      load(args[2]!),
      Number(args[3]),
      Number(args[4] ?? 30),
    );
  } else {
    printOne(load(args[0]), Number(args[1] ?? 30));
  }
}
