// Server-rendered pages: eta templates from views/, escaped by default, cached in production.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

export const VIEWS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'views');

export interface Views {
  render(template: string, data: Record<string, unknown>): string;
}

export function createViews({ cache }: { cache: boolean }): Views {
  const eta = new Eta({ views: VIEWS_DIR, cache, autoEscape: true, autoTrim: false });
  return {
    render: (template, data) => eta.render(template, data),
  };
}
