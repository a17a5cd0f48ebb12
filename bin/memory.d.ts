// Types of bin/memory.js (plain JavaScript: it runs before tsx is loaded).
export const MALLOC_TUNABLES: string;
export const V8_FLAGS: string[];
export function memoryEnvironment(
  env: NodeJS.ProcessEnv,
  platform?: NodeJS.Platform,
  thp?: () => boolean,
): NodeJS.ProcessEnv | undefined;
export function relaunchWithMemorySettings(): Promise<boolean>;
