// Periodic background work (key refresh, sweeps): never overlapping itself, never keeping the
// process alive, and a failure is one log line, not a crash.
import { errorFacts, type Logger } from './log.ts';

export function createJobs(logger: Logger) {
  const timers: NodeJS.Timeout[] = [];
  return {
    every(seconds: number, name: string, task: () => Promise<unknown>): void {
      if (seconds <= 0) return;
      let running = false;
      const timer = setInterval(async () => {
        if (running) return;
        running = true;
        try {
          await task();
        } catch (err) {
          const e = err as Error;
          logger.warn({ task: name, err: errorFacts(e) }, 'background task failed');
        } finally {
          running = false;
        }
      }, seconds * 1000);
      timer.unref();
      timers.push(timer);
    },
    stop(): void {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
    },
  };
}

/**
 * `task`, run one call at a time: a call while it runs gets a run that starts once it is over
 * (calls meanwhile share that one). So a caller that learnt of a change sees it, and an older
 * run never finishes after a newer one.
 */
export function oneAtATime<T>(task: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const start = (): Promise<T> => {
    running = task().finally(() => {
      running = undefined;
    });
    return running;
  };
  const settle = () => undefined;
  return () => {
    if (queued) return queued;
    if (!running) return start();
    queued = running.then(settle, settle).then(() => {
      queued = undefined;
      return start();
    });
    return queued;
  };
}
