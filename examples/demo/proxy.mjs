// The demo's proxy: a TCP proxy in front of the app, with a drain trigger and a connection count,
// the way Envoy is used next to an application.
//   - SIGUSR1 starts draining: the listener closes, open connections carry on until they end.
//   - GET http://127.0.0.1:$ADMIN_PORT/connections answers the number of open connections.
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';

const listenPort = Number(process.env.PROXY_PORT ?? 8000);
const upstreamPort = Number(process.env.UPSTREAM_PORT ?? 8080);
const adminPort = Number(process.env.ADMIN_PORT ?? 9000);
let open = 0;

const proxy = createServer((downstream) => {
  open++;
  const upstream = connect(upstreamPort, '127.0.0.1');
  downstream.pipe(upstream).pipe(downstream);
  const done = () => {
    downstream.destroy();
    upstream.destroy();
  };
  downstream.on('error', done).on('close', done);
  upstream.on('error', done).on('close', done);
  downstream.once('close', () => open--);
});
proxy.listen(listenPort, '127.0.0.1', () =>
  console.log(`proxy listening on 127.0.0.1:${listenPort} -> ${upstreamPort}`),
);

const admin = createHttpServer((req, res) => {
  if (req.url === '/connections') return void res.end(`${open}\n`);
  res.statusCode = 404;
  res.end();
});
admin.listen(adminPort, '127.0.0.1');

process.on('SIGUSR1', () => {
  console.log(`proxy: draining, ${open} connection(s) open`);
  proxy.close();
});
process.on('SIGTERM', () => {
  console.log('proxy: SIGTERM, exiting');
  process.exit(0);
});
