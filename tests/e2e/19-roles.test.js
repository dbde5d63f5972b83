// 19-roles: `roles` splits irisx serve into processes on one database. An api-only process
// accepts messages but sends none and delivers no webhook; a worker-only process started on
// the same database (no HTTP port) sends every queued message to the SMSC, and the API
// process shows them delivered. A bad roles value stops the start with a clear message. Two
// API processes on one database: a rate deck replaced through one prices the very next
// message accepted by the other (the routing generation, not a timer, tells it).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const h = require('./lib/harness');
const { startSmsc } = require('./lib/smsc');
const { startReceiver } = require('./lib/receiver');

const NUM = '+15550001900';
const N = 25;
let srv, smsc, hook, T, worker, api2, provId;

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
	provId = h.expectStatus(await admin('POST', '/v1/admin/messaging-providers', {
		name: 'smsc',
		kind: 'smpp',
		config: { host: '127.0.0.1', port: smsc.port, system_id: 'irisx', password: 'secret', window: 10 },
	}), 201, 'provider').id;
	h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { number: NUM, tenant_id: T.tenantId }), 201);
	h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: T.token, json: { url: hook.url('/events'), events: ['message.*'] } }), 201);
});

after(async () => {
	for (const p of [worker, api2])
		if (p && p.exitCode === null) {
			p.kill('SIGTERM');
			await new Promise((r) => p.once('exit', r));
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

test('a rate deck replaced through a second API process prices the next message of the first', { timeout: 60000 }, async () => {
	const port = await h.freePort();
	let out = '';
	api2 = spawn(h.BIN, ['serve'], { cwd: srv.dataDir, env: srv.fullEnv({ IRISX_ROLES: 'api', IRISX_HTTP_LISTEN: `127.0.0.1:${port}` }), stdio: ['ignore', 'pipe', 'pipe'] });
	api2.stdout.on('data', (d) => (out += d));
	api2.stderr.on('data', (d) => (out += d));
	const base = `http://127.0.0.1:${port}`;
	for (let i = 0; i < 100; i++) {
		try {
			if ((await fetch(`${base}/healthz`)).ok)
				break;
		} catch {}
		await h.sleep(100);
	}
	const price = async (to) => h.expectStatus(await srv.req('POST', '/v1/messages', { token: T.token, json: { from: NUM, to, body: 'priced' } }), 201).price;
	assert.equal(await price('+15553100001'), null, 'no deck yet: no price');
	const deck = async (csv) => h.expectStatus(await h.request(base, 'PUT', `/v1/admin/messaging-providers/${provId}/rates`, { token: srv.adminToken, json: { csv } }), 200, `rates through the second process\n${out}`);
	await deck('prefix,cost\n1,0.0070\n1555,0.0040\n');
	assert.equal(await price('+15553100002'), 0.004, 'the first process sees the new deck at once');
	assert.equal(await price('+14155550100'), 0.007, 'longest prefix: 1');
	await deck('prefix,cost\n1,0.0070\n1555,0.0020\n15553,0.0010\n');
	// 400 at once on 128 connections, straight after the change: every one re-reads or
	// shares the new copy (more than the 64 pooled readers are inside their checks at once)
	const burst = await h.hammer(srv.url, 'POST', '/v1/messages', { token: T.token, json: { from: NUM, to: '+15553100009', body: 'burst' }, n: 400, concurrency: 128 });
	assert.deepEqual([...new Set(burst.map((x) => x.status))], [201], 'all accepted');
	assert.deepEqual([...new Set(burst.map((x) => x.body.price))], [0.001], 'all priced from the new deck');
	assert.equal(await price('+15553100003'), 0.001);
	assert.equal(await price('+15554100003'), 0.002);
	// disabled through the second process: unpriced on the first
	h.expectStatus(await h.request(base, 'PATCH', `/v1/admin/messaging-providers/${provId}`, { token: srv.adminToken, json: { enabled: false } }), 200);
	assert.equal(await price('+15553100004'), null);
	h.expectStatus(await h.request(base, 'PATCH', `/v1/admin/messaging-providers/${provId}`, { token: srv.adminToken, json: { enabled: true } }), 200);
	assert.equal(await price('+15553100005'), 0.001);
});
