// The demo's application: a small HTTP server. GET /slow?ms=2000 answers after a delay, so you can
// watch a request survive a graceful shutdown; GET /healthz is its readiness probe.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') return void res.end('ok\n');
  const delay = url.pathname === '/slow' ? Number(url.searchParams.get('ms') ?? 2000) : 0;
  setTimeout(() => res.end(`hello from the app (pid ${process.pid}) after ${delay}ms\n`), delay);
});
server.listen(port, '127.0.0.1', () => console.log(`app listening on 127.0.0.1:${port}`));

// SIGTERM: stop accepting, finish what is in flight, then exit.
process.on('SIGTERM', () => {
  console.log('app: SIGTERM, finishing in-flight requests');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
