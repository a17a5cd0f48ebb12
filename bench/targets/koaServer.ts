// A bare Koa app answering every request with a small JSON: the ceiling of the framework and of
// the load generator on this machine. Run as its own process by targets/koa.ts.
import Koa from 'koa';

const app = new Koa();
app.use((ctx) => {
  ctx.body = { ok: true };
});
const server = app.listen(Number(process.env.BENCH_KOA_PORT), '127.0.0.1');
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
