// Serves the few static assets under views/static (CSS, the WebAuthn script) from memory: a
// fixed list read at start, so no path from a request ever reaches the file system.
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type Koa from 'koa';
import { VIEWS_DIR } from './views.ts';

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface StaticFile {
  body: Buffer;
  type: string;
}

/** Answers GET and HEAD of exactly these paths from memory; everything else passes on. */
function serveFromMemory(files: Map<string, StaticFile>): Koa.Middleware {
  return async (ctx, next) => {
    const file = ctx.method === 'GET' || ctx.method === 'HEAD' ? files.get(ctx.path) : undefined;
    if (!file) return next();
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  };
}

export function staticFiles(prefix = '/static/'): Koa.Middleware {
  const dir = join(VIEWS_DIR, 'static');
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(`${prefix}${name}`, { body: readFileSync(join(dir, name)), type });
  }
  return serveFromMemory(files);
}

/** Adds files under a prefix from another directory (e.g. a browser bundle from node_modules). */
export function extraStaticFile(
  path: string,
  file: string,
  type = 'text/javascript; charset=utf-8',
): Koa.Middleware {
  return serveFromMemory(new Map([[path, { body: readFileSync(file), type }]]));
}

/** The theme's files (src/theme/): /static/theme.css, its logo, and /favicon.ico. */
export function themeFiles(theme: {
  css: string;
  logo: StaticFile & { path: string };
  favicon: StaticFile & { path: string };
}): Koa.Middleware {
  return serveFromMemory(
    new Map<string, StaticFile>([
      ['/static/theme.css', { body: Buffer.from(theme.css), type: TYPES['.css']! }],
      [theme.logo.path, theme.logo],
      [theme.favicon.path, theme.favicon],
    ]),
  );
}
