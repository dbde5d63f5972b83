// 41: nothing lost: 10,000 SMS are accepted and flow to the npm `smpp` SMSC; the server is
// killed with SIGKILL mid-stream and restarted on the same database. Every accepted message
// reaches the SMSC (duplicates counted: submits in flight at the kill are sent again) and
// ends in a final state; none stays queued or sending.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const h = require('./lib/harness');
const { startSmsc } = require('./lib/smsc');

const N = 10000;
const NUM = '+15550003000';
let srv, smsc;

before(async () => {
	smsc = await startSmsc({ systemId: 'crash', password: 'pw', receipt: 'after', receiptDelayMs: 5 });
	srv = await h.startServer({
		tag: 'msgcrash',
		admin: true,
		env: {
			IRISX_MESSAGING_LEASE_S: '5',
			IRISX_RATELIMIT_KEY_RPS: '1000000',
			IRISX_RATELIMIT_KEY_BURST: '1000000',
			IRISX_RATELIMIT_TENANT_RPS: '1000000',
			IRISX_RATELIMIT_TENANT_BURST: '1000000',
		},
	});
});
after(async () => {
	if (smsc)
		smsc.stop();
	if (srv)
		await srv.cleanup();
});

test('kill -9 with 10,000 messages in flight: every one reaches the SMSC and a final state', { timeout: 300000 }, async () => {
	const t = await h.registerTenant(srv, { tag: 'msgcrash' });
	h.expectStatus(await srv.req('POST', '/v1/admin/messaging-providers', {
		token: srv.adminToken,
		json: { name: 'smsc', kind: 'smpp', config: { host: '127.0.0.1', port: smsc.port, system_id: 'crash', password: 'pw', window: 50 } },
	}), 201);
	h.expectStatus(await srv.req('POST', '/v1/admin/phone-numbers', { token: srv.adminToken, json: { number: NUM, tenant_id: t.tenantId } }), 201);
	await smsc.waitFor((e) => e.event === 'bind', 10000);
	const bodies = new Map(); // body -> message id
	const t0 = Date.now();
	let killed = false;
	const seen = () => new Set(smsc.events.filter((e) => e.event === 'submit_sm' && !e.throttled && !e.dropped).map((e) => Buffer.from(e.short_message, 'hex').toString()));
	// 32 clients send distinct messages; the server is killed once the SMSC has a third
	let next = 0,
		restarted = null,
		atKill = 0;
	const send = (i, body) =>
		srv.req('POST', '/v1/messages', {
			token: t.token,
			headers: { 'idempotency-key': `crash-${i}` }, // a retry after the crash is the same request
			json: { from: NUM, to: `+1555${String(1000000 + i).padStart(7, '0')}`, body },
			timeout: 20000,
		}).catch(() => ({ status: 0 }));
	const worker = async () => {
		while (next < N) {
			const i = next++;
			const body = `crash message ${i}`;
			for (;;) {
				const r = await send(i, body);
				if (r.status === 201) {
					bodies.set(body, r.body.id);
					break;
				}
				assert.ok(r.status === 0 || r.status >= 500, `unexpected ${r.status} ${JSON.stringify(r.body)}`);
				await (restarted || h.sleep(100)); // the server is down: wait for it
			}
			if (!killed && seen().size >= N / 3) {
				killed = true;
				atKill = seen().size;
				restarted = srv.kill9().then(() => srv.start());
			}
		}
	};
	await Promise.all(Array.from({ length: 32 }, worker));
	if (!killed) {
		killed = true;
		atKill = seen().size;
		await srv.kill9();
		await srv.start();
	}
	await restarted;
	// anything accepted after the restart? (emits during the kill failed and are not counted)
	const db = path.join(srv.dataDir, 'irisx.db');
	const open = () => +h.sqlite(db, "SELECT COUNT(*) FROM messages WHERE status IN ('queued', 'sending')");
	const end = Date.now() + 180000;
	while (open() > 0 && Date.now() < end)
		await h.sleep(500);
	// the SMSC logs a submit before answering it: the last lines may still be in its pipe when
	// the last message turns final (open() blocks the event loop while sqlite3 runs)
	await h.sleep(300);
	const got = seen();
	const lost = [...bodies.keys()].filter((b) => !got.has(b)).length;
	const submitsTotal = smsc.events.filter((e) => e.event === 'submit_sm' && !e.throttled && !e.dropped).length;
	const states = Object.fromEntries(h.sqlite(db, 'SELECT status, COUNT(*) AS n FROM messages GROUP BY status', { json: true }).map((r) => [r.status, r.n]));
	console.log(`# sms crash: accepted=${bodies.size} at_smsc_before_kill=${atKill} unique_at_smsc=${got.size} submits=${submitsTotal} duplicates=${submitsTotal - got.size} lost=${lost} states=${JSON.stringify(states)} secs=${((Date.now() - t0) / 1000).toFixed(1)}`);
	assert.equal(bodies.size, N, 'every message accepted (retried with its Idempotency-Key after the crash)');
	assert.equal(+h.sqlite(db, "SELECT COUNT(*) FROM messages WHERE direction = 'outbound-api'"), N, 'one message per key');
	assert.equal(lost, 0, 'accepted but never submitted');
	assert.equal(open(), 0, 'messages left queued or sending');
	// a receipt for a message submitted just before the kill went to the dead bind: those end
	// "sent" (the SMSC does not store and forward receipts); everything else is delivered
	assert.equal((states.failed || 0) + (states.undelivered || 0), 0);
	assert.ok((states.delivered || 0) >= bodies.size * 0.9, JSON.stringify(states));
});
