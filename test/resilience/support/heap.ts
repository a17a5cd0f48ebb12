// The live JavaScript heap of a serving process after a full collection, read through Node's
// inspector. This, not RSS, is what a leak grows: V8 keeps the heap it grew under load and
// malloc keeps its arenas, so RSS after a burst stays 20–30 % up whether or not anything leaked.
import WebSocket from 'ws';

interface Target {
  webSocketDebuggerUrl: string;
}

/** Calls the inspector's methods in order over one connection; answers the last one's result. */
async function inspect(url: string, methods: string[]): Promise<Record<string, unknown>> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  try {
    let result: Record<string, unknown> = {};
    for (const [id, method] of methods.entries()) {
      result = await new Promise((resolve, reject) => {
        const onMessage = (data: WebSocket.RawData) => {
          const message = JSON.parse(String(data)) as {
            id?: number;
            result?: Record<string, unknown>;
            error?: { message: string };
          };
          if (message.id !== id) return; // an event, not our answer
          socket.off('message', onMessage);
          if (message.error) reject(new Error(`${method}: ${message.error.message}`));
          else resolve(message.result ?? {});
        };
        socket.on('message', onMessage);
        socket.send(JSON.stringify({ id, method }));
      });
    }
    return result;
  } finally {
    socket.close();
  }
}

/**
 * Bytes of live JavaScript objects in process `pid` after two full collections. SIGUSR1 opens
 * the process's inspector on 127.0.0.1:`inspectPort` (its NODE_OPTIONS carry --inspect-port);
 * once open, the signal does nothing more.
 */
export async function liveHeapBytes(pid: number, inspectPort: number): Promise<number> {
  process.kill(pid, 'SIGUSR1');
  const deadline = Date.now() + 10_000;
  let target: Target | undefined;
  while (!target) {
    try {
      const response = await fetch(`http://127.0.0.1:${inspectPort}/json/list`);
      target = ((await response.json()) as Target[])[0];
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`no inspector on port ${inspectPort}: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const usage = await inspect(target.webSocketDebuggerUrl, [
    'HeapProfiler.collectGarbage',
    'HeapProfiler.collectGarbage',
    'Runtime.getHeapUsage',
  ]);
  return Number(usage.usedSize);
}
