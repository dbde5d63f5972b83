// 44: the epoll thread pool (http.threads = 2), where POST /v1/messages and POST /v1/emails
// queue their write and suspend the request until the writer thread has committed it:
// 500 concurrent messages over 64 connections all answered 201 with distinct ids and all
// stored (request log and metrics still count each), refusals with the error shape and their
// audit entries, Idempotency-Key pairs sent at once (one message, one replay), clients that
// leave while their request is suspended, the routes that run on worker threads (login with
// argon2, keys, webhooks, cancel) during a burst, a slow login that holds up no read on a
// single epoll thread, and SIGTERM with requests in flight.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const h = require('./lib/harness');

const NUM = '+15550004400';
const HIGH = '10000000';
let srv, T, key;

before(async () => {
	srv = await h.startServer({
		tag: 'pool',
		admin: true,
		env: {
			IRISX_HTTP_THREADS: '2',
			IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
			IRISX_RATELIMIT_KEY_RPS: HIGH,
			IRISX_RATELIMIT_KEY_BURST: HIGH,
			IRISX_RATELIMIT_TENANT_RPS: HIGH,
			IRISX_RATELIMIT_TENANT_BURST: HIGH,
		},
	});
	T = await h.registerTenant(srv, { tag: 'pool' });
	key = (await h.createKey(srv, T.token, { role: 'developer' })).secret;
	h.expectStatus(await srv.req('POST', '/v1/admin/phone-numbers', { token: srv.adminToken, json: { number: NUM, tenant_id: T.tenantId } }), 201);
});

after(async () => {
	if (srv)
		await srv.cleanup();
});

function sms(to, body) {
	return { from: NUM, to, body };
}

/* n POSTs of bodies made by make(i), at most `inflight` at once over keep-alive connections;
   returns [{status, body, headers}] in order (a connection error is status 0). */
async function post(p, n, make, { inflight = 64, headers = {} } = {}) {
	const u = new URL(srv.url);
	const agent = new http.Agent({ keepAlive: true, maxSockets: inflight });
	const one = (i) =>
		new Promise((resolve) => {
			const data = JSON.stringify(make(i));
			const q = http.request(
				{
					host: u.hostname,
					port: u.port,
					method: 'POST',
					path: p,
					agent,
					timeout: 30000,
					headers: { ...headers, authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
				},
				(r) => {
					const chunks = [];
					r.on('data', (d) => chunks.push(d));
					r.on('end', () => {
						let body = null;
						try {
							body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
						} catch {}
						resolve({ status: r.statusCode, body, headers: r.headers });
					});
					r.on('error', () => resolve({ status: 0, body: null }));
				}
			);
			q.on('timeout', () => q.destroy(new Error('timeout')));
			q.on('error', () => resolve({ status: 0, body: null }));
			q.end(data);
		});
	const out = await h.pool(Array.from({ length: n }, (_, i) => i), inflight, one);
	agent.destroy();
	return out;
}

function count(sql) {
	return +h.sqlite(srv.dbPath, sql);
}

function requestLines(route, method) {
	return srv.logs
		.split('\n')
		.filter((l) => l.startsWith('{') && l.includes('"msg":"request"'))
		.map((l) => JSON.parse(l))
		.filter((o) => o.route === route && o.method === method);
}

test('500 concurrent messages over 64 connections: all 201, distinct ids, all stored, all logged', async () => {
	const before = requestLines('/v1/messages', 'POST').length;
	const res = await post('/v1/messages', 500, (i) => sms(`+1555100${String(i).padStart(4, '0')}`, `pool burst ${i}`));
	const bad = res.filter((r) => r.status !== 201);
	assert.equal(bad.length, 0, `not 201: ${JSON.stringify(bad.slice(0, 3))}`);
	const ids = res.map((r) => r.body.id);
	for (const id of ids)
		assert.match(id, h.ID_RE('SM'));
	assert.equal(new Set(ids).size, 500, 'distinct ids');
	res.forEach((r, i) => {
		assert.equal(r.body.body, `pool burst ${i}`, 'each answer is its own request\'s');
		assert.equal(r.body.status, 'queued');
	});
	assert.equal(count(`SELECT COUNT(*) FROM messages WHERE body LIKE 'pool burst %'`), 500);
	const idList = ids.map((id) => `'${id}'`).join(',');
	assert.equal(count(`SELECT COUNT(*) FROM messages WHERE id IN (${idList})`), 500, 'every answered id is a row');
	assert.equal(count(`SELECT COUNT(*) FROM audit_logs WHERE action = 'message.create' AND resource_id IN (${idList})`), 500, 'audited');
	// the request log and the metrics see each request, with its time suspended
	const lines = requestLines('/v1/messages', 'POST').slice(before);
	assert.equal(lines.filter((l) => l.status === 201).length, 500);
	assert.ok(lines.every((l) => l.duration_us > 0 && l.tenant_id === T.tenantId));
	const m = await srv.req('GET', '/metrics');
	const line = m.text.split('\n').find((l) => /^irisx_http_requests_total\{method="POST",route="\/v1\/messages",status="201"\}/.test(l));
	assert.ok(line && +line.split(' ').pop() >= 500, `metrics: ${line}`);
});

test('refusals in pool mode: the error shape, nothing stored, the refusal audited', async () => {
	const r = await post('/v1/messages', 1, () => sms('bad', 'refused'));
	assert.equal(r[0].status, 400);
	assert.equal(r[0].body.error.code, 'invalid_to');
	assert.equal(r[0].body.error.field, 'to');
	assert.equal(typeof r[0].body.error.message, 'string');
	// good and bad ones at once: each gets its own answer
	const mix = await post('/v1/messages', 200, (i) => (i % 4 === 0 ? sms('+1', `mix ${i}`) : i % 4 === 1 ? { from: '+15559999999', to: '+15551230000', body: `mix ${i}` } : sms('+15551230000', `mix ${i}`)));
	mix.forEach((x, i) => {
		if (i % 4 === 0)
			assert.deepEqual([x.status, x.body.error.code, x.body.error.field], [400, 'invalid_to', 'to'], `mix ${i}`);
		else if (i % 4 === 1)
			assert.ok(x.status >= 400 && x.status < 500 && x.body.error.field === 'from', `mix ${i}: ${JSON.stringify(x.body)}`);
		else
			assert.deepEqual([x.status, x.body.body], [201, `mix ${i}`]);
	});
	assert.equal(count(`SELECT COUNT(*) FROM messages WHERE body LIKE 'mix %'`), 100);
	assert.equal(count(`SELECT COUNT(*) FROM messages WHERE body = 'refused'`), 0);
	// the refusals' audit entries are written after the rolled-back transaction, still before the answer
	assert.ok(count(`SELECT COUNT(*) FROM audit_logs WHERE action = 'message.create' AND status >= 400`) >= 101);
	// a bad e-mail and a good one
	const e = await post('/v1/emails', 2, (i) => (i ? { from: 'nope', to: ['a@b.co'], subject: 's', text: 't' } : { from: 'a@pool.example.com', to: ['b@example.com'], subject: 'pool', text: 'hello' }));
	assert.equal(e[0].status, 201);
	assert.match(e[0].body.id, h.ID_RE('ML'));
	assert.equal(e[1].status, 400);
	assert.equal(e[1].body.error.code, 'invalid_address');
	assert.equal(count(`SELECT COUNT(*) FROM emails WHERE id = '${e[0].body.id}'`), 1);
});

test('Idempotency-Key sent twice at once: one message, the second answer replayed', async () => {
	for (let round = 0; round < 20; round++) {
		const k = `pool-${round}-${h.rand()}`;
		const body = `idem ${k}`;
		const o = { token: key, json: sms('+15551239999', body), headers: { 'Idempotency-Key': k } };
		const [a, b] = await Promise.all([srv.req('POST', '/v1/messages', o), srv.req('POST', '/v1/messages', o)]);
		h.expectStatus(a, 201);
		h.expectStatus(b, 201);
		assert.equal(a.body.id, b.body.id, 'the same message');
		const replayed = [a, b].filter((x) => x.h('idempotent-replayed') === 'true');
		assert.equal(replayed.length, 1, 'exactly one replay');
		assert.equal(count(`SELECT COUNT(*) FROM messages WHERE body = '${body}'`), 1);
	}
	// the same key with another body is refused, also in the pool
	const k = `pool-conflict-${h.rand()}`;
	h.expectStatus(await srv.req('POST', '/v1/messages', { token: key, json: sms('+15551239999', 'first'), headers: { 'Idempotency-Key': k } }), 201);
	h.expectError(await srv.req('POST', '/v1/messages', { token: key, json: sms('+15551239999', 'second'), headers: { 'Idempotency-Key': k } }), 422, 'idempotency_conflict');
});

test('clients that leave while their request is suspended: the server carries on', async () => {
	const data = JSON.stringify(sms('+15551238888', 'gone'));
	const raw = `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(data)}\r\n\r\n${data}`;
	await h.pool(Array.from({ length: 200 }, (_, i) => i), 32, (i) =>
		new Promise((resolve) => {
			const s = net.connect({ port: srv.port, host: '127.0.0.1' }, () => {
				s.write(raw, () => {
					if (i % 2)
						s.resetAndDestroy(); // RST
					else
						s.destroy(); // FIN
					resolve();
				});
			});
			s.on('error', () => resolve());
		})
	);
	await h.sleep(300);
	const res = await post('/v1/messages', 50, (i) => sms('+15551238888', `after ${i}`));
	assert.ok(res.every((r) => r.status === 201), 'still serving');
	h.expectStatus(await srv.req('GET', '/healthz'), 200);
});

test('other routes in the pool: login (argon2), register, keys, webhooks, lists, cancel, during a message burst', async () => {
	const burst = post('/v1/messages', 300, (i) => sms('+15551237777', `burst ${i}`));
	const logged = await h.login(srv, T.email);
	assert.ok(logged.access_token);
	const U = await h.registerTenant(srv, { tag: 'pool2' });
	const k2 = await h.createKey(srv, U.token);
	assert.ok(k2.secret);
	h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: T.token, json: { url: 'http://127.0.0.1:9/hook', events: ['email.*'] } }), 201);
	const later = h.expectStatus(await srv.req('POST', '/v1/messages', { token: key, json: { ...sms('+15551236666', 'later'), send_at: new Date(Date.now() + 3600e3).toISOString() } }), 201);
	const c = h.expectStatus(await srv.req('POST', `/v1/messages/${later.id}/cancel`, { token: key }), 200);
	assert.equal(c.status, 'canceled');
	const list = h.expectStatus(await srv.req('GET', '/v1/messages?limit=5', { token: key }), 200);
	assert.equal(list.data.length, 5);
	const got = h.expectStatus(await srv.req('GET', `/v1/messages/${later.id}`, { token: key }), 200);
	assert.equal(got.status, 'canceled');
	const res = await burst;
	assert.ok(res.every((r) => r.status === 201), 'the burst was served meanwhile');
	// another tenant never sees these
	h.expectError(await srv.req('GET', `/v1/messages/${later.id}`, { token: U.token }), 404);
});

// One epoll thread and a slow argon2id: a login runs on a worker thread (suspended), so the
// epoll thread answers reads and messages meanwhile instead of waiting behind the hash.
test('a login hashing on a worker holds up no other request', { timeout: 60000 }, async () => {
	const one = await h.startServer({
		tag: 'pool-one',
		env: { IRISX_HTTP_THREADS: '1', IRISX_AUTH_ARGON2_M_KIB: '65536', IRISX_AUTH_ARGON2_T_COST: '4' },
	});
	try {
		const O = await h.registerTenant(one, { tag: 'pool-one' });
		const logins = [];
		let hashing = true;
		const t0 = Date.now();
		for (let i = 0; i < 2; i++)
			logins.push(h.login(one, O.email).then(() => Date.now() - t0));
		const waits = [];
		while (hashing) {
			const t = Date.now();
			h.expectStatus(await one.req('GET', '/v1/auth/me', { token: O.token }), 200);
			waits.push(Date.now() - t);
			hashing = (await Promise.race([Promise.all(logins).then(() => false), h.sleep(5).then(() => true)]));
		}
		const took = Math.min(...(await Promise.all(logins)));
		waits.sort((a, b) => a - b);
		const worst = waits[waits.length - 1];
		console.log(`# pool worker: login ${took} ms, ${waits.length} reads meanwhile, slowest ${worst} ms`);
		assert.ok(took >= 150, `the hash should be slow for this test (${took} ms)`);
		assert.ok(waits.length >= 5, `only ${waits.length} reads answered during the logins`);
		assert.ok(worst < took / 2, `a read waited ${worst} ms behind a ${took} ms login`);
	} finally {
		await one.cleanup();
	}
});

test('SIGTERM with requests in flight: a clean exit, every 201 committed', { timeout: 120000 }, async () => {
	const answers = post('/v1/messages', 2000, (i) => sms('+15551235555', `term ${i}`));
	await h.sleep(400);
	const t0 = Date.now();
	const st = await srv.stop();
	assert.ok(st.graceful && st.code === 0, `exit ${JSON.stringify(st)}`);
	assert.ok(Date.now() - t0 < 10000);
	const res = await answers;
	const ok = res.filter((r) => r.status === 201);
	assert.ok(ok.length > 0, 'some answered before the stop');
	assert.ok(res.every((r) => r.status === 201 || r.status === 0 || r.status === 503), `statuses ${[...new Set(res.map((r) => r.status))]}`);
	const ids = ok.map((r) => `'${r.body.id}'`).join(',');
	assert.equal(count(`SELECT COUNT(*) FROM messages WHERE id IN (${ids})`), ok.length, 'every answered message is stored');
	assert.equal(h.sqlite(srv.dbPath, 'PRAGMA integrity_check'), 'ok');
	await srv.start();
	h.expectStatus(await srv.req('GET', '/healthz'), 200);
	assert.ok(/"msg":"shutting down"/.test(srv.logs));
});

// PostgreSQL has no writer thread: a queued write runs on the pool thread and is complete
// before the handler returns, so every request takes the path of a write that completes
// while its request is being suspended (resumed at once, answered on the next call).
describe('on PostgreSQL', { timeout: 180000 }, () => {
	let pgSrv, cluster, P, pkey;
	before(async () => {
		cluster = await h.pgCluster();
		const pg = h.pgCreateDb(cluster, `pool_${h.rand(4)}`);
		pgSrv = await h.startServer({
			tag: 'pool-pg',
			pg,
			admin: true,
			env: { IRISX_HTTP_THREADS: '2', IRISX_RATELIMIT_KEY_RPS: HIGH, IRISX_RATELIMIT_KEY_BURST: HIGH, IRISX_RATELIMIT_TENANT_RPS: HIGH, IRISX_RATELIMIT_TENANT_BURST: HIGH },
		});
		P = await h.registerTenant(pgSrv, { tag: 'pool-pg' });
		pkey = (await h.createKey(pgSrv, P.token, { role: 'developer' })).secret;
		h.expectStatus(await pgSrv.req('POST', '/v1/admin/phone-numbers', { token: pgSrv.adminToken, json: { number: NUM, tenant_id: P.tenantId } }), 201);
	});
	after(async () => {
		if (pgSrv)
			await pgSrv.cleanup();
		if (cluster)
			cluster.stop();
	});

	test('200 concurrent messages, a refusal, and Idempotency-Key pairs (the unique-key race replays)', async () => {
		const res = await h.pool(Array.from({ length: 200 }, (_, i) => i), 32, (i) =>
			pgSrv.req('POST', '/v1/messages', { token: pkey, json: sms(`+1555200${String(i).padStart(4, '0')}`, `pg ${i}`) })
		);
		assert.ok(res.every((r) => r.status === 201), `not 201: ${res.filter((r) => r.status !== 201).map(h.describeRes).slice(0, 2)}`);
		const ids = new Set(res.map((r) => r.body.id));
		assert.equal(ids.size, 200);
		const listed = await h.listAll(pgSrv, '/v1/messages', { token: pkey });
		assert.equal(listed.filter((m) => ids.has(m.id)).length, 200, 'all stored');
		h.expectError(await pgSrv.req('POST', '/v1/messages', { token: pkey, json: sms('bad', 'x') }), 400, 'invalid_to', 'to');
		for (let round = 0; round < 10; round++) {
			const o = { token: pkey, json: sms('+15551239999', `pg idem ${round}`), headers: { 'Idempotency-Key': `pg-${round}-${h.rand()}` } };
			const [a, b] = await Promise.all([pgSrv.req('POST', '/v1/messages', o), pgSrv.req('POST', '/v1/messages', o)]);
			h.expectStatus(a, 201);
			h.expectStatus(b, 201);
			assert.equal(a.body.id, b.body.id);
			assert.equal([a, b].filter((x) => x.h('idempotent-replayed') === 'true').length, 1);
		}
	});
});
