// The example's application: a small HTTP server. GET /healthz is its readiness probe.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
// In a container the app listens on every interface, so that a published port reaches it.
const host = process.env.HOST ?? '0.0.0.0';
const server = createServer((req, res) => {
  if (req.url === '/healthz') return void res.end('ok\n');
  res.end(`hello from the app (pid ${process.pid})\n`);
});
server.listen(port, host, () => console.log(`app listening on ${host}:${port}`));

// SIGTERM: stop accepting, finish what is in flight, then exit.
process.on('SIGTERM', () => {
  console.log('app: SIGTERM, finishing in-flight requests');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
