import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { parseAllDocuments, parse } from 'yaml';
import { runCorral } from '../helpers/cli.js';

// examples/kubernetes: each manifest validates against the Kubernetes API schemas (kubernetes-models'
// validators, generated from the OpenAPI document), the fields Corral relies on say what the
// README says, and each stack file passes `corral check` for the grace period its manifest gives.
// The OpenAPI schemas accept unknown fields, so every field relied on is read back here: a typo
// in one of them fails below.

const EXAMPLE = fileURLToPath(new URL('../../examples/kubernetes/', import.meta.url));

/** The manifest's documents, each validated as the kind it says it is. */
function manifest(file: string): { service: Service; deployment: Deployment } {
  const docs = parseAllDocuments(readFileSync(EXAMPLE + file, 'utf8')).map(
    (d) => d.toJS() as { kind: string },
  );
  const service = docs.filter((d) => d.kind === 'Service').map((d) => new Service(d as never));
  const deployment = docs.filter((d) => d.kind === 'Deployment').map((d) => new Deployment(d as never));
  assert.deepEqual(
    [service.length, deployment.length, docs.length],
    [1, 1, 2],
    `${file}: one Service, one Deployment`,
  );
  const [svc] = service;
  const [dep] = deployment;
  assert.ok(svc && dep);
  svc.validate();
  dep.validate();
  return { service: svc, deployment: dep };
}

/** The readiness address of an example stack file, as written. */
function readiness(stackFile: string): { host: string; port: number } {
  const address = (parse(readFileSync(EXAMPLE + stackFile, 'utf8')) as { readiness: { address: string } })
    .readiness.address;
  const [host = '', port = ''] = address.split(':');
  return { host, port: Number(port) };
}

/** Asserts `container` runs the stack mounted at /etc/corral, with probes on its public /ready. */
function assertCorralContainer(
  container: IContainer,
  stackFile: string,
  configMap: string,
  volumes: unknown,
): void {
  assert.deepEqual(container.command, [
    'corral',
    'run',
    '-f',
    '/etc/corral/corral.yaml',
    '--log-format',
    'json',
  ]);
  assert.deepEqual(
    container.volumeMounts?.find((m) => m.mountPath === '/etc/corral'),
    { name: 'corral', mountPath: '/etc/corral', readOnly: true },
  );
  assert.deepEqual(
    (volumes as { name: string; configMap?: { name: string } }[]).find((v) => v.name === 'corral')?.configMap,
    { name: configMap },
  );
  // The kubelet probes the pod IP: a loopback /ready would never be reached.
  const { host, port } = readiness(stackFile);
  assert.equal(host, '0.0.0.0');
  const named = container.ports?.find((p) => p.name === 'corral-ready');
  assert.equal(named?.containerPort, port);
  assert.deepEqual(container.readinessProbe?.httpGet, { path: '/ready', port: 'corral-ready' });
  assert.equal(container.livenessProbe, undefined, 'a draining pod must not be restarted');
}

/** `corral check` with the manifest's grace period; resolves to its exit code and output. */
async function check(stackFile: string, graceSeconds: number, preStopSeconds: number) {
  return await runCorral([
    'check',
    '-f',
    EXAMPLE + stackFile,
    '--kubernetes-grace',
    `${graceSeconds}s`,
    '--kubernetes-prestop',
    `${preStopSeconds}s`,
  ]);
}

test('examples/kubernetes/deployment.yaml: valid, Corral as entrypoint, preStop drain, a grace period that fits', async () => {
  const { service, deployment } = manifest('deployment.yaml');
  const pod = deployment.spec?.template.spec;
  assert.ok(pod);
  const [container] = pod.containers;
  assert.ok(container && pod.containers.length === 1);
  assertCorralContainer(container, 'corral.yaml', 'shop-corral', pod.volumes);
  assert.equal(service.spec?.ports?.[0]?.targetPort, 'inbound');
  assert.equal(container.ports?.find((p) => p.name === 'inbound')?.containerPort, 15006);

  // The preStop hook signals PID 1 (Corral) with the shell's own kill, then holds SIGTERM back.
  const hook = container.lifecycle?.preStop?.exec?.command;
  assert.equal(hook?.length, 3);
  assert.deepEqual(hook.slice(0, 2), ['/bin/sh', '-c']);
  const sleep = /^kill -USR2 1 && sleep (\d+)$/.exec(hook[2] ?? '');
  assert.ok(sleep, `preStop: ${hook[2]}`);

  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const fits = await check('corral.yaml', grace, Number(sleep[1]));
  assert.equal(fits.code, 0, fits.stdout + fits.stderr);
  assert.match(fits.stdout, /^fits: /m);
  // The same check would have caught Kubernetes' default grace period.
  const tooShort = await check('corral.yaml', 30, Number(sleep[1]));
  assert.equal(tooShort.code, 1);
});

test('examples/kubernetes/deployment-native-sidecar.yaml: valid, Corral in a native sidecar that the app waits for', async () => {
  const { deployment } = manifest('deployment-native-sidecar.yaml');
  const pod = deployment.spec?.template.spec;
  assert.ok(pod);
  const [sidecar] = pod.initContainers ?? [];
  assert.ok(sidecar && pod.initContainers?.length === 1);
  assert.equal(
    sidecar.restartPolicy,
    'Always',
    'an init container is a native sidecar only with restartPolicy: Always',
  );
  assertCorralContainer(sidecar, 'corral-sidecar.yaml', 'shop-sidecar', pod.volumes);
  assert.deepEqual(sidecar.startupProbe?.httpGet, { path: '/ready', port: 'corral-ready' });
  assert.equal(sidecar.lifecycle?.preStop, undefined);

  const [app] = pod.containers;
  assert.ok(app);
  const appPreStop = app.lifecycle?.preStop?.sleep?.seconds;
  assert.ok(typeof appPreStop === 'number');
  // What the manifest's comment promises for the app: it stops within 20s of its SIGTERM. The
  // sidecar gets SIGTERM only after that, so it all counts as the sidecar's preStop time.
  const APP_STOP_SECONDS = 20;
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const fits = await check('corral-sidecar.yaml', grace, appPreStop + APP_STOP_SECONDS);
  assert.equal(fits.code, 0, fits.stdout + fits.stderr);
});

test('examples/kubernetes: both stack files pass corral check as they are', async () => {
  for (const file of ['corral.yaml', 'corral-sidecar.yaml']) {
    const { code, stdout, stderr } = await runCorral(['check', '-f', EXAMPLE + file]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /: valid, \d components/);
  }
});
