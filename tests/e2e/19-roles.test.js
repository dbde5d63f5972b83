// 19-roles: `roles` splits irisx serve into processes on one database. An api-only process
// accepts messages but sends none and delivers no webhook; a worker-only process started on
// the same database (no HTTP port) sends every queued message to the SMSC, and the API
// process shows them delivered. A bad roles value stops the start with a clear message.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const h = require('./lib/harness');
const { startSmsc } = require('./lib/smsc');
const { startReceiver } = require('./lib/receiver');

const NUM = '+15550001900';
const N = 25;
let srv, smsc, hook, T, worker;

const admin = (m, p, json) => srv.req(m, p, { token: srv.adminToken, json });

before(async () => {
	smsc = await startSmsc({ systemId: 'irisx', password: 'secret', receipt: 'after' });
	hook = await startReceiver(() => ({ status: 204 }));
	srv = await h.startServer({
		tag: 'roles',
		admin: true,
		env: { IRISX_ROLES: 'api', IRISX_OUTBOUND_ALLOW_PRIVATE: 'true' },
	});
	T = await h.registerTenant(srv, { tag: 'roles' });
	h.expectStatus(await admin('POST', '/v1/admin/messaging-providers', {
		name: 'smsc',
		kind: 'smpp',
		config: { host: '127.0.0.1', port: smsc.port, system_id: 'irisx', password: 'secret', window: 10 },
	}), 201, 'provider');
	h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { number: NUM, tenant_id: T.tenantId }), 201);
	h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: T.token, json: { url: hook.url('/events'), events: ['message.*'] } }), 201);
});

after(async () => {
	if (worker && worker.exitCode === null) {
		worker.kill('SIGTERM');
		await new Promise((r) => worker.once('exit', r));
	}
	if (hook)
		await hook.close();
	if (smsc)
		smsc.stop();
	if (srv)
		await srv.cleanup();
});

test('an unknown role stops the start with a clear message', () => {
	const r = spawnSync(h.BIN, ['serve'], { cwd: srv.dataDir, env: srv.fullEnv({ IRISX_ROLES: 'api,mail' }), encoding: 'utf8', timeout: 10000 });
	assert.equal(r.status, 1);
	assert.match(r.stderr, /roles must list api, worker and\/or media/);
	const e = spawnSync(h.BIN, ['serve'], { cwd: srv.dataDir, env: srv.fullEnv({ IRISX_ROLES: '' }), encoding: 'utf8', timeout: 10000 });
	assert.equal(e.status, 1, 'no role at all is refused too');
});

test('api-only accepts and sends nothing; a worker-only process on the same database sends all', { timeout: 60000 }, async () => {
	const ids = [];
	for (let i = 0; i < N; i++) {
		const r = await srv.req('POST', '/v1/messages', { token: T.token, json: { from: NUM, to: `+1555300${String(i).padStart(4, '0')}`, body: `split ${i}` } });
		ids.push(h.expectStatus(r, 201, 'accepted').id);
	}
	await h.sleep(1500);
	assert.equal(smsc.events.filter((e) => e.event === 'bind').length, 0, 'the api process opens no bind');
	assert.equal(smsc.events.filter((e) => e.event === 'submit_sm').length, 0, 'and sends nothing');
	assert.equal(hook.seen.length, 0, 'and delivers no webhook');
	for (const id of ids.slice(0, 3))
		assert.equal(h.expectStatus(await srv.req('GET', `/v1/messages/${id}`, { token: T.token }), 200).status, 'queued');

	// the worker: same settings and database, no HTTP port of its own
	const wport = await h.freePort();
	let out = '';
	worker = spawn(h.BIN, ['serve'], { cwd: srv.dataDir, env: srv.fullEnv({ IRISX_ROLES: 'worker', IRISX_HTTP_LISTEN: `127.0.0.1:${wport}`, IRISX_OUTBOUND_ALLOW_PRIVATE: 'true' }), stdio: ['ignore', 'pipe', 'pipe'] });
	worker.stdout.on('data', (d) => (out += d));
	worker.stderr.on('data', (d) => (out += d));
	const deadline = Date.now() + 40000;
	let done = [];
	while (Date.now() < deadline) {
		const rows = await Promise.all(ids.map((id) => srv.req('GET', `/v1/messages/${id}`, { token: T.token })));
		done = rows.filter((r) => r.body.status === 'delivered');
		if (done.length === N)
			break;
		await h.sleep(250);
	}
	assert.equal(done.length, N, `every message delivered through the worker process\n${out}`);
	const submitted = new Set(smsc.events.filter((e) => e.event === 'submit_sm').map((e) => e.destination_addr));
	assert.equal(submitted.size, N, 'the SMSC received each recipient');
	assert.match(out, /running roles worker/);
	await assert.rejects(fetch(`http://127.0.0.1:${wport}/healthz`, { signal: AbortSignal.timeout(1000) }), 'the worker listens on no HTTP port');
	// the worker delivers the webhooks too (message.queued, sent, delivered for each)
	while (Date.now() < deadline && hook.seen.length < 3 * N)
		await h.sleep(200);
	assert.ok(hook.seen.length >= 3 * N, `webhooks delivered by the worker: ${hook.seen.length}`);
});
