// 43: an SMSC that answers every submit_sm with an empty message_id (as Kannel's drive_smpp
// does) and sends no receipts. Each part of each message still gets its own row (an id of
// ours, "~<message id>.<part>"), so no part is dropped, and every message ends `sent`.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const h = require('./lib/harness');
const { startSmsc } = require('./lib/smsc');

const NUM = '+15550004300';
let srv, smsc;

before(async () => {
	smsc = await startSmsc({ systemId: 'empty', password: 'pw', emptyIds: true });
	srv = await h.startServer({ tag: 'emptyids', admin: true });
});
after(async () => {
	if (smsc)
		await smsc.stop();
	if (srv)
		await srv.cleanup();
});

test('empty message ids: every part keeps its row, every message ends sent', { timeout: 60000 }, async () => {
	const t = await h.registerTenant(srv, { tag: 'emptyids' });
	h.expectStatus(await srv.req('POST', '/v1/admin/messaging-providers', {
		token: srv.adminToken,
		json: { name: 'smsc', kind: 'smpp', config: { host: '127.0.0.1', port: smsc.port, system_id: 'empty', password: 'pw', window: 10 } },
	}), 201);
	h.expectStatus(await srv.req('POST', '/v1/admin/phone-numbers', { token: srv.adminToken, json: { number: NUM, tenant_id: t.tenantId } }), 201);
	const long = 'x'.repeat(400); // GSM-7: 3 segments of 153
	const sent = [];
	for (const [to, body] of [['+15551230001', long], ['+15551230002', 'short one'], ['+15551230003', long]]) {
		const m = h.expectStatus(await srv.req('POST', '/v1/messages', { token: t.token, json: { from: NUM, to, body } }), 201);
		sent.push(m);
	}
	assert.deepEqual(sent.map((m) => m.segments), [3, 1, 3]);
	const deadline = Date.now() + 30000;
	let rows = [];
	while (Date.now() < deadline) {
		rows = await Promise.all(sent.map(async (m) => h.expectStatus(await srv.req('GET', `/v1/messages/${m.id}`, { token: t.token }), 200)));
		if (rows.every((r) => r.status === 'sent'))
			break;
		await h.sleep(200);
	}
	assert.deepEqual(rows.map((r) => r.status), ['sent', 'sent', 'sent']);
	const submits = smsc.events.filter((e) => e.event === 'submit_sm');
	assert.equal(submits.length, 7, 'seven parts on the wire');
	assert.ok(submits.every((e) => e.message_id === ''), 'each answered with an empty id');
	const db = path.join(srv.dataDir, 'irisx.db');
	const parts = h.sqlite(db, 'SELECT message_id, seq, provider_message_id FROM message_parts ORDER BY message_id, seq', { json: true });
	assert.equal(parts.length, 7, 'a row per part (none taken by another part\'s empty id)');
	for (const m of sent)
		assert.deepEqual(parts.filter((p) => p.message_id === m.id).map((p) => p.provider_message_id),
			Array.from({ length: m.segments }, (_, i) => `~${m.id}.${i + 1}`));
});
