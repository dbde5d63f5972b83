// 17: nothing lost: 10,000 events are accepted while deliveries are in flight to a slow
// receiver; the server is killed with SIGKILL and restarted on the same database. Every
// accepted event reaches the receiver, which de-duplicating on webhook-id sees each one
// exactly once; duplicates (at-least-once) are counted, and every job ends done.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');

const EVENTS = 10000;
const WORKERS = 32;

let srv, rcv;
// slow until the kill, so that deliveries are still queued then however fast the emits are
let delayMs = 200;
before(async () => {
	rcv = await startReceiver(() => ({ status: 204, delayMs }));
	srv = await h.startServer({
		tag: 'whcrash',
		env: {
			IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
			IRISX_WEBHOOKS_MAX_INFLIGHT: '64',
			IRISX_WEBHOOKS_TIMEOUT_MS: '2000',
			IRISX_WEBHOOKS_CONNECT_TIMEOUT_MS: '500', // lease: 2 x 2.5 s + 5 s = 10 s
			IRISX_RATELIMIT_KEY_RPS: '1000000',
			IRISX_RATELIMIT_KEY_BURST: '1000000',
			IRISX_RATELIMIT_TENANT_RPS: '1000000',
			IRISX_RATELIMIT_TENANT_BURST: '1000000',
		},
	});
});
after(async () => {
	if (rcv)
		await rcv.close();
	if (srv)
		await srv.cleanup();
});

test('kill -9 with 10,000 events queued and deliveries in flight: none lost', { timeout: 240000 }, async () => {
	const t = await h.registerTenant(srv, { tag: 'whcrash' });
	const ep = h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: t.token, json: { url: rcv.url('/crash') } }), 201);
	const accepted = new Set();
	const t0 = Date.now();
	let failed = 0;
	for (const r of await h.hammer(srv.url, 'POST', `/v1/webhooks/${ep.id}/test`, { token: t.token, n: EVENTS, concurrency: WORKERS })) {
		if (r.status === 202)
			accepted.add(r.body.event_id);
		else
			failed++;
	}
	assert.equal(failed, 0, 'every emit accepted');
	const unique = () => new Set(rcv.on('/crash').map((r) => r.headers['webhook-id']));
	const before = unique().size;
	assert.ok(before < EVENTS, `deliveries still queued at the kill (${before} of ${EVENTS} already delivered)`);
	const tEmit = Date.now() - t0;
	await srv.kill9(); // deliveries in flight, thousands queued
	const atKill = unique().size;
	delayMs = 40;
	await srv.start();
	const tRestart = Date.now();
	await rcv.waitFor(() => unique().size >= accepted.size, 180000, 'every accepted event after the restart');
	const tRecover = Date.now() - tRestart;
	await h.sleep(500);
	const seen = unique();
	const lost = [...accepted].filter((id) => !seen.has(id)).length;
	const total = rcv.on('/crash').length;
	const stray = [...seen].filter((id) => !accepted.has(id)).length;
	console.log(`# webhooks crash: accepted=${accepted.size} delivered_before_kill=${atKill} unique_received=${seen.size} duplicates=${total - seen.size} lost=${lost} stray=${stray} emit_ms=${tEmit} recover_ms=${tRecover}`);
	assert.equal(lost, 0);
	assert.equal(stray, 0);
	// every delivery job reached a terminal state: done (the store bus keeps them as rows;
	// on NATS the store holds only the outbox and dead letters)
	if (process.env.IRISX_E2E_BUS_URL) {
		const left = +h.sqlite(path.join(srv.dataDir, 'irisx.db'), "SELECT COUNT(*) FROM jobs WHERE subject = 'webhook.deliver'");
		assert.equal(left, 0, 'no outbox rows or dead letters left');
		return;
	}
	let open = -1;
	for (let i = 0; i < 100 && open !== 0; i++) {
		open = +h.sqlite(path.join(srv.dataDir, 'irisx.db'), "SELECT COUNT(*) FROM jobs WHERE subject = 'webhook.deliver' AND state <> 'done'");
		if (open)
			await h.sleep(100);
	}
	assert.equal(open, 0, 'jobs not done');
	const done = +h.sqlite(path.join(srv.dataDir, 'irisx.db'), "SELECT COUNT(*) FROM jobs WHERE subject = 'webhook.deliver' AND state = 'done'");
	assert.equal(done, accepted.size);
});
