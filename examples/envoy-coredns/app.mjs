// The example's application: a small HTTP server behind Envoy. GET /slow?ms=N answers after N ms
// (a request in flight during a shutdown); /healthz is its readiness probe.
import http from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://app');
  if (url.pathname === '/healthz') return void res.end('ok\n');
  const ms = url.pathname === '/slow' ? Number(url.searchParams.get('ms') ?? 2000) : 0;
  setTimeout(() => res.end(`hello from the app (pid ${process.pid})\n`), ms);
});
server.listen(port, '127.0.0.1', () => console.log(`app listening on 127.0.0.1:${port}`));
// Finish what is in flight, then exit.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
