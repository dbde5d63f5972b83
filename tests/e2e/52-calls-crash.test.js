// 52-calls-crash: kill -9 of `irisx serve` (the media role runs inside it) with calls live
// and calls still waiting in the queue. After the restart every live call is closed within
// 60 s with a record saying why, billed once (a second restart changes nothing, one
// call.completed event per call), and every queued call is still placed: all accepted calls
// reach a terminal state.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const twilio = require('twilio');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');
const { sippServer } = require('./lib/voice');

const FROM = '+15550003333';
let srv, T, docs, far1;

async function admin(method, p, o = {}) {
	return srv.req(method, p, { token: srv.adminToken, ...o });
}

async function calls() {
	return h.expectStatus(await srv.req('GET', '/v1/calls?limit=100', { token: T.token }), 200).data;
}

before(async () => {
	docs = await startReceiver((req) => {
		const vr = new twilio.twiml.VoiceResponse();
		if (req.path === '/hold')
			vr.pause({ length: 60 });
		else if (req.path === '/quick')
			vr.hangup();
		else
			return { status: 204 };
		return { status: 200, headers: { 'content-type': 'text/xml' }, body: vr.toString() };
	});
	const sipPort = await h.freePort();
	srv = await h.startServer({
		tag: 'ccrash',
		admin: true,
		env: {
			IRISX_VOICE_ENABLED: 'true',
			IRISX_VOICE_MAX_CALLS: '90',
			IRISX_VOICE_SIP_PORT: String(sipPort),
			IRISX_VOICE_RTP_PORT_MIN: '43000',
			IRISX_VOICE_RTP_PORT_MAX: '43199',
			IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
			IRISX_WEBHOOKS_RETRY_UNIT_US: '1000',
		},
	});
	T = await h.registerTenant(srv, { tag: 'ccrash' });
	h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { json: { number: FROM, tenant_id: T.tenantId } }), 201);
	h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: T.token, json: { url: docs.url('/events'), events: ['call.*'] } }), 201);
	// one carrier for the whole test: it outlives the kill and answers the queued calls after it
	far1 = await sippServer({ scenario: 'uas_answer.xml', calls: 10, timeout: 180 });
	const c = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: 'c', host: '127.0.0.1', port: far1.port, ping_ms: 0 } }), 201);
	h.expectStatus(await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, { body: 'prefix,cost_per_min,min_s,incr_s\n1,0.0600,1,1\n', headers: { 'content-type': 'text/csv' } }), 200);
	T.carrier = c.id;
});

after(async () => {
	if (far1)
		far1.kill();
	if (docs)
		await docs.close();
	if (srv)
		await srv.cleanup();
});

test('kill -9 with live and queued calls: every call reaches a terminal state, billed once', async () => {
	const live = [];
	for (let i = 0; i < 3; i++)
		live.push(h.expectStatus(await srv.req('POST', '/v1/calls', { token: T.token, json: { from: FROM, to: `+1555888000${i}`, url: docs.url('/hold') } }), 201).id);
	const end = Date.now() + 20000;
	while (Date.now() < end && (await calls()).filter((c) => live.includes(c.id) && c.status === 'in-progress').length < 3)
		await h.sleep(100);
	assert.equal((await calls()).filter((c) => c.status === 'in-progress').length, 3, 'three calls live');
	await h.sleep(6000); // past a heartbeat (5 s): the live calls were seen alive, billable
	// four more wait in the queue at one call per second when the process dies
	h.expectStatus(await admin('PUT', `/v1/admin/tenants/${T.tenantId}/voice-settings`, { json: { calls_per_second: 1 } }), 200);
	const queued = [];
	for (let i = 0; i < 4; i++)
		queued.push(h.expectStatus(await srv.req('POST', '/v1/calls', { token: T.token, json: { from: FROM, to: `+1555888100${i}`, url: docs.url('/quick') } }), 201).id);
	await srv.kill9();
	await srv.start();
	await srv.loginAdmin();
	const t0 = Date.now();
	let all;
	while (Date.now() - t0 < 60000) {
		all = await calls();
		if (all.length === 7 && all.every((c) => c.ended_at))
			break;
		await h.sleep(250);
	}
	assert.equal(all.length, 7);
	for (const c of all)
		assert.ok(c.ended_at, `call ${c.id} is still open: ${JSON.stringify(c)}`);
	const closedLive = all.filter((c) => live.includes(c.id));
	for (const c of closedLive) {
		assert.match(c.end_reason, /media process restarted/, JSON.stringify(c));
		assert.equal(c.status, 'completed');
		assert.ok(c.duration >= 1, `billed up to its last sign of life: ${JSON.stringify(c)}`);
	}
	// the queued calls: the first may have left before the kill (then recovery closed it);
	// the others were placed after the restart, each once
	const q = all.filter((c) => queued.includes(c.id));
	const after1 = q.filter((c) => !/media process restarted/.test(c.end_reason || ''));
	assert.ok(after1.length >= 3, JSON.stringify(q.map((c) => [c.status, c.end_reason])));
	assert.ok(after1.every((c) => c.status === 'completed' && c.attempts.length === 1), JSON.stringify(after1));

	// a second restart: nothing is closed or billed again
	const before2 = JSON.stringify(closedLive.map((c) => [c.id, c.ended_at, c.billed_seconds, c.price_micros]));
	await srv.restart();
	await h.sleep(1500);
	const after2 = (await calls()).filter((c) => live.includes(c.id));
	assert.equal(JSON.stringify(after2.map((c) => [c.id, c.ended_at, c.billed_seconds, c.price_micros])), before2);
	await docs.waitFor(() => docs.on('/events').filter((x) => JSON.parse(x.body).type === 'call.completed').length >= 7, 15000, 'call.completed events');
	await h.sleep(500);
	const done = docs.on('/events').map((x) => ({ id: x.headers['webhook-id'], ...JSON.parse(x.body) })).filter((e) => e.type === 'call.completed');
	for (const id of [...live, ...queued])
		assert.equal(new Set(done.filter((e) => e.data.call_id === id).map((e) => e.id)).size, 1, `one call.completed event for ${id}`);
	for (const c of closedLive)
		assert.equal(c.price_micros, Math.ceil((60000 * c.billed_seconds) / 60), 'priced from the rate deck, once');
});
