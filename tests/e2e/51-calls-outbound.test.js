// 51-calls-outbound: POST /v1/calls on a real `irisx serve` with its voice engine, SIPp as
// the carriers. The answered call runs its document (TwiML from the real `twilio` package,
// fetched from a local server); status callbacks for every requested event; least-cost
// routing with failover on 503 (Retry-After recorded) but not on 486; guardrails refusing
// destinations before any INVITE; the tenant's calls-per-second pacing measured on the
// INVITEs' send times; a live call redirected and hung up through the API.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const twilio = require('twilio');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');
const { sippServer } = require('./lib/voice');

const FROM = '+15550002222';
let srv, T, docs, sipPort;
const carriers = [];

async function admin(method, p, o = {}) {
	return srv.req(method, p, { token: srv.adminToken, ...o });
}

async function waitCall(id, pred, ms = 20000) {
	const end = Date.now() + ms;
	let c;
	while (Date.now() < end) {
		c = (await srv.req('GET', `/v1/calls/${id}`, { token: T.token })).body;
		if (c && pred(c))
			return c;
		await h.sleep(100);
	}
	throw new Error(`call ${id} never got there: ${JSON.stringify(c)}\n${srv.logs.slice(-2000)}`);
}

/* Replaces the operator's carriers with these SIPp scenarios: [{scenario, cost, calls}] */
async function useCarriers(list) {
	for (const c of carriers.splice(0)) {
		await admin('DELETE', `/v1/admin/carriers/${c.id}`);
		c.far.kill();
	}
	for (const [i, o] of list.entries()) {
		const far = await sippServer({ scenario: o.scenario, calls: o.calls || 1, timeout: o.timeout || 30, extra: o.extra });
		const c = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: `c${i}`, host: '127.0.0.1', port: far.port, ping_ms: 0 } }), 201);
		h.expectStatus(await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, { body: `prefix,cost_per_min,min_s,incr_s\n1,${o.cost},1,1\n`, headers: { 'content-type': 'text/csv' } }), 200);
		carriers.push({ id: c.id, far });
	}
	return carriers;
}

/* Adds carriers without removing the others. */
async function useCarriersKeep(list) {
	const keep = carriers.splice(0);
	const added = await useCarriers(list);
	carriers.push(...keep);
	return added;
}

async function call(json) {
	return srv.req('POST', '/v1/calls', { token: T.token, json: { from: FROM, url: docs.url('/hello'), ...json } });
}

before(async () => {
	docs = await startReceiver((req) => {
		const vr = new twilio.twiml.VoiceResponse();
		if (req.path === '/hello') {
			vr.say('Hello from IRISX.');
			vr.hangup();
		} else if (req.path === '/hold') {
			vr.pause({ length: 30 });
		} else if (req.path === '/bye') {
			vr.say('Redirected.');
			vr.hangup();
		} else if (req.path === '/to-agent') {
			vr.dial().sip(new URL(req.url, 'http://x').searchParams.get('agent'));
		} else if (req.path === '/quick') {
			vr.hangup();
		} else {
			return { status: 204 };
		}
		return { status: 200, headers: { 'content-type': 'text/xml' }, body: vr.toString() };
	});
	sipPort = await h.freePort();
	srv = await h.startServer({
		tag: 'out',
		admin: true,
		env: {
			IRISX_VOICE_ENABLED: 'true',
			IRISX_VOICE_MAX_CALLS: '90',
			IRISX_VOICE_SIP_PORT: String(sipPort),
			IRISX_VOICE_RTP_PORT_MIN: '42000',
			IRISX_VOICE_RTP_PORT_MAX: '42399',
			IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
			IRISX_WEBHOOKS_RETRY_UNIT_US: '1000',
			IRISX_VOICE_CALLS_PER_SECOND: '50',
		},
	});
	T = await h.registerTenant(srv, { tag: 'out' });
	h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { json: { number: FROM, tenant_id: T.tenantId } }), 201);
	h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: T.token, json: { url: docs.url('/events'), events: ['call.*'] } }), 201);
});

after(async () => {
	for (const c of carriers)
		c.far.kill();
	if (docs)
		await docs.close();
	if (srv)
		await srv.cleanup();
});

test('an answered call runs its document; status callbacks for every event; the record is priced', async () => {
	const [c0] = await useCarriers([{ scenario: 'uas_answer.xml', cost: '0.0100' }]);
	const res = await call({ to: '+15557770002', status_callback: docs.url('/status'), status_callback_events: ['initiated', 'ringing', 'answered', 'completed'] });
	const q = h.expectStatus(res, 201);
	assert.equal(q.status, 'queued');
	const done = await waitCall(q.id, (c) => c.ended_at);
	assert.equal(done.status, 'completed', JSON.stringify(done));
	assert.equal(done.direction, 'outbound-api');
	assert.equal(done.carrier_id, c0.id);
	assert.equal(done.sip_code, 200);
	assert.equal(done.q850_cause, 16);
	assert.ok(done.answered_at || done.answer_time || done.start_time, JSON.stringify(done));
	assert.equal(done.price_micros, Math.ceil((10000 * done.billed_seconds) / 60), 'per-second billing at 0.01/min');
	const r = await c0.far.done;
	assert.equal(r.ok, 1, r.describe());
	const doc = docs.on('/hello')[0];
	const p = Object.fromEntries(new URLSearchParams(doc.body));
	assert.equal(p.CallSid, q.id);
	assert.equal(p.Direction, 'outbound-api');
	assert.equal(p.CallStatus, 'in-progress');
	await docs.waitFor(() => docs.on('/status').some((x) => /CallStatus=completed/.test(x.body)), 10000, 'completed callback');
	const sts = docs.on('/status').map((x) => new URLSearchParams(x.body).get('CallStatus'));
	for (const s of ['initiated', 'ringing', 'in-progress', 'completed'])
		assert.ok(sts.includes(s), `${s} in ${sts}`);
	await docs.waitFor(() => docs.on('/events').some((x) => JSON.parse(x.body).type === 'call.completed' && JSON.parse(x.body).data.call_id === q.id), 10000, 'call.completed');
});

test('the cheapest carrier answers 503 with Retry-After: failover to the next; 486 ends the call', async () => {
	const [bad, good] = await useCarriers([
		{ scenario: 'uas_503_retry.xml', cost: '0.0010' },
		{ scenario: 'uas_answer.xml', cost: '0.0200', calls: 2 },
	]);
	const q = h.expectStatus(await call({ to: '+15557770003' }), 201);
	const done = await waitCall(q.id, (c) => c.ended_at);
	assert.equal(done.status, 'completed');
	assert.equal(done.carrier_id, good.id);
	assert.deepEqual(done.attempts.map((a) => [a.carrier_id, a.code]), [[bad.id, 503], [good.id, 200]]);
	assert.equal(done.attempts[0].retry_after_s, 30);
	assert.equal((await bad.far.done).ok, 1);
	// Retry-After is honoured: the next call does not try that carrier for 30 s
	const q1 = h.expectStatus(await call({ to: '+15557770013' }), 201);
	const d1 = await waitCall(q1.id, (c) => c.ended_at);
	assert.deepEqual(d1.attempts.map((a) => a.carrier_id), [good.id]);
	assert.equal((await good.far.done).ok, 2);

	const [busy, never] = await useCarriers([
		{ scenario: 'uas_486.xml', cost: '0.0010' },
		{ scenario: 'uas_answer.xml', cost: '0.0200', timeout: 8 },
	]);
	const q2 = h.expectStatus(await call({ to: '+15557770004' }), 201);
	const d2 = await waitCall(q2.id, (c) => c.ended_at);
	assert.equal(d2.status, 'busy');
	assert.equal(d2.sip_code, 486);
	assert.equal(d2.q850_cause, 17);
	assert.deepEqual(d2.attempts.map((a) => a.carrier_id), [busy.id], "the callee's answer ends the attempt");
	never.far.kill();
	assert.ok((await never.far.done).ok <= 0, 'the second carrier never answered a call');
});

test('guardrails: other countries and premium ranges are refused before any INVITE', async () => {
	const [c0] = await useCarriers([{ scenario: 'uas_answer.xml', cost: '0.0100', timeout: 6 }]);
	h.expectError(await call({ to: '+442071234567' }), 403, 'destination_not_allowed', 'to');
	h.expectError(await call({ to: '+19005550100' }), 403, 'premium_destination', 'to');
	// the tenant enables GB: allowed now
	h.expectStatus(await srv.req('PATCH', '/v1/voice/settings', { token: T.token, json: { allowed_countries: ['US', 'GB'] } }), 200);
	const q = h.expectStatus(await call({ to: '+442071234567', url: docs.url('/quick') }), 201);
	const d = await waitCall(q.id, (c) => c.ended_at);
	assert.equal(d.status, 'completed', JSON.stringify(d));
	assert.equal((await c0.far.done).ok, 1);
});

test("the tenant's calls per second pace the INVITEs (excess calls wait, none refused)", async () => {
	const N = 12;
	const [c0] = await useCarriers([{ scenario: 'uas_answer.xml', cost: '0.0100', calls: N, timeout: 40 }]);
	h.expectStatus(await admin('PUT', `/v1/admin/tenants/${T.tenantId}/voice-settings`, { json: { calls_per_second: 4 } }), 200);
	const ids = [];
	for (let i = 0; i < N; i++)
		ids.push(h.expectStatus(await call({ to: `+1555777${String(1000 + i)}`, url: docs.url('/quick') }), 201).id);
	const done = [];
	for (const id of ids)
		done.push(await waitCall(id, (c) => c.ended_at, 30000));
	assert.ok(done.every((c) => c.status === 'completed'), JSON.stringify(done.map((c) => c.status)));
	const starts = done.map((c) => c.attempts[0].started_us).sort((a, b) => a - b);
	const span = (starts[N - 1] - starts[0]) / 1e6;
	const expect = (N - 1) / 4;
	assert.ok(Math.abs(span - expect) / expect < 0.15, `INVITEs spread over ${span.toFixed(3)} s, expected ${expect} s at 4/s`);
	assert.equal((await c0.far.done).ok, N);
	h.expectStatus(await admin('PUT', `/v1/admin/tenants/${T.tenantId}/voice-settings`, { json: { calls_per_second: null } }), 200);
});

test('a live call is redirected to a new document, then another is hung up through the API', async () => {
	const [c0] = await useCarriers([{ scenario: 'uas_answer.xml', cost: '0.0100', calls: 2 }]);
	const q = h.expectStatus(await call({ to: '+15557770005', url: docs.url('/hold') }), 201);
	await waitCall(q.id, (c) => c.status === 'in-progress');
	await docs.waitFor(() => docs.on('/hold').length >= 1, 10000, 'the first document');
	h.expectStatus(await srv.req('POST', `/v1/calls/${q.id}`, { token: T.token, json: { url: docs.url('/bye') } }), [200, 202]);
	const d = await waitCall(q.id, (c) => c.ended_at);
	assert.equal(d.status, 'completed');
	assert.equal(docs.on('/bye').length, 1, 'the redirect document ran');
	assert.ok(d.duration < 20, 'not held for the 30 s pause');

	const q2 = h.expectStatus(await call({ to: '+15557770006', url: docs.url('/hold') }), 201);
	await waitCall(q2.id, (c) => c.status === 'in-progress');
	h.expectStatus(await srv.req('POST', `/v1/calls/${q2.id}`, { token: T.token, json: { status: 'completed' } }), [200, 202]);
	const d2 = await waitCall(q2.id, (c) => c.ended_at);
	assert.equal(d2.status, 'completed');
	assert.ok(d2.duration < 20);
	assert.equal((await c0.far.done).ok, 2);
});

test('a live call is transferred (blind) to a SIP address: the far party is bridged to the new leg', async () => {
	const [c0] = await useCarriers([{ scenario: 'uas_answer.xml', cost: '0.0100' }]);
	const agent = await sippServer({ scenario: 'uas_answer.xml', timeout: 30 });
	try {
		const q = h.expectStatus(await call({ to: '+15557770007', url: docs.url('/hold') }), 201);
		await waitCall(q.id, (c) => c.status === 'in-progress');
		h.expectError(await srv.req('POST', `/v1/calls/${q.id}/transfer`, { token: T.token, json: { to: 'not a target' } }), 400, undefined, 'to');
		h.expectStatus(await srv.req('POST', `/v1/calls/${q.id}/transfer`, { token: T.token, json: { to: `sip:agent@127.0.0.1:${agent.port}`, mode: 'blind' } }), 202);
		let leg;
		const end = Date.now() + 15000;
		while (Date.now() < end && !leg) {
			const kids = h.expectStatus(await srv.req('GET', `/v1/calls?parent_call_id=${q.id}`, { token: T.token }), 200).data;
			leg = kids.find((k) => k.status === 'in-progress');
			if (!leg)
				await h.sleep(100);
		}
		assert.ok(leg, 'the transfer leg answered');
		assert.equal(leg.direction, 'outbound-dial');
		assert.equal(leg.to, `sip:agent@127.0.0.1:${agent.port}`);
		// the original call is still up; hanging it up ends the transfer leg too
		assert.equal((await srv.req('GET', `/v1/calls/${q.id}`, { token: T.token })).body.status, 'in-progress');
		h.expectStatus(await srv.req('POST', `/v1/calls/${q.id}`, { token: T.token, json: { status: 'completed' } }), [200, 202]);
		await waitCall(q.id, (c) => c.ended_at);
		const l2 = await waitCall(leg.id, (c) => c.ended_at);
		assert.equal(l2.status, 'completed');
		assert.equal((await agent.done).ok, 1, 'the agent was answered and hung up');
		assert.equal((await c0.far.done).ok, 1);
	} finally {
		agent.kill();
	}
});

test('a carrier whose OPTIONS pings go unanswered is marked down and skipped by routing', async () => {
	await useCarriers([]);
	const dead = await h.freePort();
	const c = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: 'dead', host: '127.0.0.1', port: dead, ping_ms: 1000 } }), 201);
	h.expectStatus(await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, { body: 'prefix,cost_per_min\n1,0.0001\n', headers: { 'content-type': 'text/csv' } }), 200);
	const [alive] = await useCarriersKeep([{ scenario: 'uas_answer.xml', cost: '0.0500' }]);
	let health;
	const end = Date.now() + 40000;
	while (Date.now() < end) {
		health = h.expectStatus(await admin('GET', `/v1/admin/carriers/${c.id}`), 200).health;
		if (health === 'down')
			break;
		await h.sleep(250);
	}
	assert.equal(health, 'down');
	const q = h.expectStatus(await call({ to: '+15557770008', url: docs.url('/quick') }), 201);
	const d = await waitCall(q.id, (x) => x.ended_at);
	assert.equal(d.status, 'completed');
	assert.deepEqual(d.attempts.map((a) => a.carrier_id), [alive.id], 'the cheaper but down carrier was not tried');
	await admin('DELETE', `/v1/admin/carriers/${c.id}`);
});

test('attended transfer: the caller holds while the agent talks to the new party, then joins it', async () => {
	const [c0] = await useCarriers([{ scenario: 'uas_answer.xml', cost: '0.0100' }]);
	const agent = await sippServer({ scenario: 'uas_answer_bye.xml', timeout: 30 }); // hangs up after 4 s
	const consult = await sippServer({ scenario: 'uas_answer.xml', timeout: 30 });
	try {
		const agentUri = `sip:agent@127.0.0.1:${agent.port}`;
		const q = h.expectStatus(await call({ to: '+15557770009', url: docs.url(`/to-agent?agent=${encodeURIComponent(agentUri)}`) }), 201);
		// the customer (carrier leg) is bridged to the agent by the Dial
		let agentLeg;
		for (let i = 0; i < 100 && !agentLeg; i++) {
			const kids = h.expectStatus(await srv.req('GET', `/v1/calls?parent_call_id=${q.id}`, { token: T.token }), 200).data;
			agentLeg = kids.find((k) => k.status === 'in-progress');
			if (!agentLeg)
				await h.sleep(100);
		}
		assert.ok(agentLeg, 'the agent answered');
		h.expectStatus(await srv.req('POST', `/v1/calls/${q.id}/transfer`, { token: T.token, json: { to: `sip:consult@127.0.0.1:${consult.port}`, mode: 'attended' } }), 202);
		// the agent hangs up (its scenario) once it has talked to the consulted party
		const a = await agent.done;
		assert.equal(a.ok, 1, a.describe());
		const kids = h.expectStatus(await srv.req('GET', `/v1/calls?parent_call_id=${q.id}`, { token: T.token }), 200).data;
		const cLeg = kids.find((k) => k.to === `sip:consult@127.0.0.1:${consult.port}`);
		assert.ok(cLeg, JSON.stringify(kids));
		// the caller is still up, now with the consulted party: hang up, both end
		await h.sleep(500);
		assert.equal((await srv.req('GET', `/v1/calls/${q.id}`, { token: T.token })).body.status, 'in-progress');
		assert.equal((await srv.req('GET', `/v1/calls/${cLeg.id}`, { token: T.token })).body.status, 'in-progress');
		h.expectStatus(await srv.req('POST', `/v1/calls/${q.id}`, { token: T.token, json: { status: 'completed' } }), [200, 202]);
		await waitCall(q.id, (c) => c.ended_at);
		assert.equal((await waitCall(cLeg.id, (c) => c.ended_at)).status, 'completed');
		assert.equal((await consult.done).ok, 1);
		assert.equal((await c0.far.done).ok, 1);
	} finally {
		agent.kill();
		consult.kill();
	}
});

test('the concurrent-call cap fails an excess call before any INVITE, with the reason', async () => {
	const [c0] = await useCarriers([{ scenario: 'uas_answer.xml', cost: '0.0100', timeout: 20 }]);
	h.expectStatus(await admin('PUT', `/v1/admin/tenants/${T.tenantId}/voice-settings`, { json: { max_concurrent_calls: 1 } }), 200);
	try {
		const q = h.expectStatus(await call({ to: '+15557770010', url: docs.url('/hold') }), 201);
		await waitCall(q.id, (c) => c.status === 'in-progress');
		const q2 = h.expectStatus(await call({ to: '+15557770011', url: docs.url('/quick') }), 201);
		const d2 = await waitCall(q2.id, (c) => c.ended_at);
		assert.equal(d2.status, 'failed');
		assert.match(d2.end_reason, /concurrent_call_limit/);
		assert.deepEqual(d2.attempts, [], 'no INVITE left');
		h.expectStatus(await srv.req('POST', `/v1/calls/${q.id}`, { token: T.token, json: { status: 'completed' } }), [200, 202]);
		await waitCall(q.id, (c) => c.ended_at);
		assert.equal((await c0.far.done).ok, 1, 'the carrier saw one call');
	} finally {
		h.expectStatus(await admin('PUT', `/v1/admin/tenants/${T.tenantId}/voice-settings`, { json: { max_concurrent_calls: null } }), 200);
	}
});

test("the daily spend cap: once today's priced calls reach it, new calls fail before any INVITE", async () => {
	await useCarriers([{ scenario: 'uas_answer.xml', cost: '0.0100', timeout: 6 }]);
	const spent = (await h.listAll(srv, '/v1/calls', { token: T.token })).reduce((s, c) => s + (c.price_micros || 0), 0);
	assert.ok(spent > 0, 'earlier tests priced some calls today');
	h.expectStatus(await admin('PUT', `/v1/admin/tenants/${T.tenantId}/voice-settings`, { json: { daily_spend_cap: spent / 1e6 } }), 200);
	try {
		const q = h.expectStatus(await call({ to: '+15557770012', url: docs.url('/quick') }), 201);
		const d = await waitCall(q.id, (c) => c.ended_at);
		assert.equal(d.status, 'failed');
		assert.match(d.end_reason, /daily_spend_cap_reached/);
		assert.deepEqual(d.attempts, []);
	} finally {
		h.expectStatus(await admin('PUT', `/v1/admin/tenants/${T.tenantId}/voice-settings`, { json: { daily_spend_cap: null } }), 200);
	}
});

test('the far end asks for a transfer (REFER): 202, NOTIFY, the new leg is bridged, call.transferred', async () => {
	const agent = await sippServer({ scenario: 'uas_answer.xml', timeout: 30 });
	const target = `sip:agent@127.0.0.1:${agent.port}`;
	const [c0] = await useCarriers([{ scenario: 'uas_refer.xml', cost: '0.0100', extra: ['-key', 'target', target] }]);
	try {
		const q = h.expectStatus(await call({ to: '+15557770014', url: docs.url('/hold') }), 201);
		// the new leg answered (it may have moved on by the time a poll sees it: ASan runs are slow)
		let leg, kids = [];
		for (let i = 0; i < 300 && !leg; i++) {
			kids = h.expectStatus(await srv.req('GET', `/v1/calls?parent_call_id=${q.id}`, { token: T.token }), 200).data;
			leg = kids.find((k) => k.to === target && k.answered_at);
			if (!leg)
				await h.sleep(100);
		}
		assert.ok(leg, `the REFER target answered: ${JSON.stringify(kids)}\n${srv.logs.slice(-3000)}`);
		await docs.waitFor(() => docs.on('/events').some((x) => JSON.parse(x.body).type === 'call.transferred' && JSON.parse(x.body).data.call_id === q.id), 10000, 'call.transferred');
		h.expectStatus(await srv.req('POST', `/v1/calls/${q.id}`, { token: T.token, json: { status: 'completed' } }), [200, 202]);
		await waitCall(q.id, (c) => c.ended_at);
		assert.equal((await waitCall(leg.id, (c) => c.ended_at)).status, 'completed');
		const r = await c0.far.done;
		assert.equal(r.ok, 1, r.describe());
		assert.equal((await agent.done).ok, 1);
	} finally {
		agent.kill();
	}
});
