// 15: webhooks end to end against real receivers on loopback: endpoints CRUD, Standard
// Webhooks signatures checked by the `standardwebhooks` npm package, secret rotation, the
// retry schedule (compressed: webhooks.retry_unit_us), receiver failure modes (500,
// refused, timeout, 429 + Retry-After, 3xx, 410), exhaustion, replay, event filters, the
// jobs API, status callbacks checked by the twilio package's validateRequest, and the SSRF
// guard with outbound.allow_private off.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { Webhook } = require('standardwebhooks');
const twilio = require('twilio');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');

const UNIT_US = 100;
// on NATS (IRISX_E2E_BUS_URL) the jobs API lists only the outbox and dead letters
const STORE_BUS = !process.env.IRISX_E2E_BUS_URL; // one schedule second = 100 us: 5 min -> 30 ms, 10 h -> 3.6 s

let srv, T, B;
const receivers = [];

async function receiver(behave) {
	const r = await startReceiver(behave);
	receivers.push(r);
	return r;
}

async function endpoint(url, o = {}, who = T) {
	const r = await srv.req('POST', '/v1/webhooks', { token: who.token, json: { url, ...o } });
	h.expectStatus(r, 201, 'create webhook');
	return r.body;
}

async function fire(ep, who = T) {
	const r = await srv.req('POST', `/v1/webhooks/${ep.id}/test`, { token: who.token });
	h.expectStatus(r, 202, 'test event');
	return r.body.event_id;
}

async function deliveries(ep, who = T) {
	return (await h.listAll(srv, `/v1/webhooks/${ep.id}/deliveries`, { token: who.token })).reverse(); // oldest first
}

async function waitDeliveries(ep, pred, ms = 20000, what = 'deliveries') {
	const end = Date.now() + ms;
	let d = [];
	while (Date.now() < end) {
		d = await deliveries(ep);
		if (pred(d))
			return d;
		await h.sleep(50);
	}
	throw new Error(`timed out waiting for ${what}: ${JSON.stringify(d.map((x) => [x.attempt, x.status_code, x.outcome, x.error]))}`);
}

before(async () => {
	srv = await h.startServer({
		tag: 'webhooks',
		admin: true,
		env: {
			IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
			IRISX_WEBHOOKS_RETRY_UNIT_US: String(UNIT_US),
			IRISX_WEBHOOKS_TIMEOUT_MS: '800',
			IRISX_WEBHOOKS_CONNECT_TIMEOUT_MS: '500',
		},
	});
	T = await h.registerTenant(srv, { tag: 'wh' });
	B = await h.registerTenant(srv, { tag: 'wh-b' });
});
after(async () => {
	for (const r of receivers)
		await r.close();
	if (srv)
		await srv.cleanup();
});

describe('endpoints', () => {
	test('create shows the secret once; list, fetch, update, delete', async () => {
		const r = await srv.req('POST', '/v1/webhooks', {
			token: T.token,
			json: { url: 'https://hooks.example.com/irisx', events: ['call.*', 'message.delivered'], description: 'prod' },
		});
		const ep = h.expectStatus(r, 201);
		assert.match(ep.id, h.ID_RE('WH'));
		assert.match(ep.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
		assert.deepEqual(ep.events, ['call.*', 'message.delivered']);
		assert.equal(ep.enabled, true);
		const got = h.expectStatus(await srv.req('GET', `/v1/webhooks/${ep.id}`, { token: T.token }), 200);
		assert.equal(got.secret, undefined, 'the secret is not shown again');
		assert.equal(got.url, 'https://hooks.example.com/irisx');
		const list = await h.listAll(srv, '/v1/webhooks', { token: T.token });
		assert.ok(list.some((e) => e.id === ep.id));
		assert.ok(list.every((e) => e.secret === undefined));
		const p = await srv.req('PATCH', `/v1/webhooks/${ep.id}`, { token: T.token, json: { events: ['*'], enabled: false, description: 'x' } });
		assert.deepEqual(h.expectStatus(p, 200).events, ['*']);
		assert.equal(p.body.enabled, false);
		const t = await srv.req('POST', `/v1/webhooks/${ep.id}/test`, { token: T.token });
		h.expectError(t, 409, 'endpoint_disabled');
		h.expectStatus(await srv.req('DELETE', `/v1/webhooks/${ep.id}`, { token: T.token }), 204);
		h.expectError(await srv.req('GET', `/v1/webhooks/${ep.id}`, { token: T.token }), 404, 'not_found');
	});

	test('bad input: scheme, credentials, unknown event types, missing url', async () => {
		const bad = [
			[{ url: 'ftp://example.com/x' }, 'invalid_url', 'url'],
			[{ url: 'file:///etc/passwd' }, 'invalid_url', 'url'],
			[{ url: 'http://user:pw@example.com/x' }, 'invalid_url', 'url'],
			[{ url: 'not a url' }, 'invalid_url', 'url'],
			[{ url: 'https://example.com/x', events: ['nope.nothing'] }, 'invalid_field', 'events'],
			[{ url: 'https://example.com/x', events: [] }, 'invalid_field', 'events'],
			[{ url: 'https://example.com/x', events: 'call.*' }, 'invalid_type', 'events'],
			[{ events: ['*'] }, 'missing_field', 'url'],
			[{ url: 'https://example.com/x', secret: 'mine' }, 'unknown_field', 'secret'],
		];
		for (const [json, code, field] of bad)
			h.expectError(await srv.req('POST', '/v1/webhooks', { token: T.token, json }), 400, code, field);
	});

	test('the event catalogue lists every family', async () => {
		const r = h.expectStatus(await srv.req('GET', '/v1/webhooks/event-types', { token: T.token }), 200);
		const types = r.data.map((e) => e.type);
		for (const fam of ['call.', 'message.', 'email.', 'recording.', 'queue.', 'agent.', 'campaign.'])
			assert.ok(types.some((t) => t.startsWith(fam)), `no ${fam}* type`);
		assert.ok(types.includes('webhook.test'));
	});
});

describe('delivery', () => {
	test('a test event arrives signed (verified by the standardwebhooks package)', async () => {
		const rcv = await receiver(() => ({ status: 204 }));
		const ep = await endpoint(rcv.url('/signed'));
		const evId = await fire(ep);
		await rcv.waitFor(() => rcv.on('/signed').length >= 1, 10000, 'the test event');
		const got = rcv.on('/signed')[0];
		assert.equal(got.method, 'POST');
		assert.equal(got.headers['webhook-id'], evId);
		assert.match(got.headers['content-type'], /application\/json/);
		const wh = new Webhook(ep.secret);
		const payload = wh.verify(got.body, got.headers); // throws on a bad signature
		assert.equal(payload.type, 'webhook.test');
		assert.match(payload.timestamp, h.RFC3339_RE);
		assert.equal(payload.data.endpoint_id, ep.id);
		assert.throws(() => wh.verify(got.body.replace('test event', 'tost event'), got.headers));
		assert.throws(() => new Webhook('whsec_' + Buffer.alloc(24, 7).toString('base64')).verify(got.body, got.headers));
		const ts = +got.headers['webhook-timestamp'];
		assert.ok(Math.abs(ts - Date.now() / 1000) < 60, 'timestamp is now (unix seconds)');
		const d = await waitDeliveries(ep, (d) => d.length >= 1 && d[0].outcome === 'delivered');
		assert.equal(d[0].status_code, 204);
		assert.equal(d[0].attempt, 1);
		assert.equal(d[0].event_id, evId);
		assert.equal(typeof d[0].latency_ms, 'number');
	});

	test('rotation: the new secret signs at once and the old one keeps signing', async () => {
		const rcv = await receiver(() => ({ status: 200, body: 'ok' }));
		const ep = await endpoint(rcv.url('/rotate'));
		const r = await srv.req('POST', `/v1/webhooks/${ep.id}/rotate-secret`, { token: T.token });
		const rot = h.expectStatus(r, 200);
		assert.notEqual(rot.secret, ep.secret);
		assert.ok(Date.parse(rot.previous_secret_expires_at) - Date.now() > 23 * 3600 * 1000);
		await fire(ep);
		await rcv.waitFor(() => rcv.on('/rotate').length >= 1);
		const got = rcv.on('/rotate')[0];
		assert.equal(got.headers['webhook-signature'].split(' ').length, 2, 'two signatures during the overlap');
		new Webhook(rot.secret).verify(got.body, got.headers);
		new Webhook(ep.secret).verify(got.body, got.headers);
	});

	test('500 twice, then 200: delivered on the third attempt, each attempt logged', async () => {
		const rcv = await receiver((req, n) => (n <= 2 ? { status: 500, body: 'boom '.repeat(400) } : { status: 200 }));
		const ep = await endpoint(rcv.url('/flaky'));
		const evId = await fire(ep);
		const d = await waitDeliveries(ep, (d) => d.some((x) => x.outcome === 'delivered'));
		assert.deepEqual(d.map((x) => [x.attempt, x.status_code, x.outcome]), [
			[1, 500, 'retrying'],
			[2, 500, 'retrying'],
			[3, 200, 'delivered'],
		]);
		assert.equal(d[0].error, 'HTTP 500');
		assert.ok(d[0].response.length <= 1024 && d[0].response.startsWith('boom'), 'first 1 KB of the answer kept');
		const ids = new Set(rcv.on('/flaky').map((r) => r.headers['webhook-id']));
		assert.deepEqual([...ids], [evId], 'same webhook-id on every retry');
	});

	test('connection refused until the receiver comes up: delivered', async () => {
		const port = await (async () => {
			const s = net.createServer();
			await new Promise((r) => s.listen(0, '127.0.0.1', r));
			const p = s.address().port;
			await new Promise((r) => s.close(r));
			return p;
		})();
		// the schedule here: 0.5 ms, 30 ms, 180 ms, 720 ms, 1.8 s, 3.6 s, 3.6 s
		const ep = await endpoint(`http://127.0.0.1:${port}/late`);
		await fire(ep);
		await waitDeliveries(ep, (d) => d.length >= 3, 10000, 'refused attempts');
		const http = require('node:http');
		const seen = [];
		const late = http.createServer((q, s) => {
			seen.push(q.headers['webhook-id']);
			q.resume();
			s.writeHead(204).end();
		});
		await new Promise((r) => late.listen(port, '127.0.0.1', r));
		try {
			const d = await waitDeliveries(ep, (d) => d.some((x) => x.outcome === 'delivered'), 15000, 'delivery after recovery');
			const failed = d.filter((x) => x.outcome === 'retrying');
			assert.ok(failed.length >= 3);
			assert.ok(failed.every((x) => x.status_code === 0 && x.error === 'connect_failed'), JSON.stringify(failed[0]));
			assert.equal(seen.length, 1);
		} finally {
			await new Promise((r) => late.close(r));
		}
	});

	test('a receiver that never answers: timeout, then retried', async () => {
		const rcv = await receiver((req, n) => (n === 1 ? { hang: true } : { status: 204 }));
		const ep = await endpoint(rcv.url('/hang'));
		await fire(ep);
		const d = await waitDeliveries(ep, (d) => d.some((x) => x.outcome === 'delivered'), 15000);
		assert.equal(d[0].error, 'timeout');
		assert.ok(d[0].latency_ms >= 700 && d[0].latency_ms < 3000, `timeout after ${d[0].latency_ms} ms`);
		assert.equal(d[1].outcome, 'delivered');
	});

	test('429 with Retry-After is honoured', async () => {
		// Retry-After 3600 s = 360 ms here; the schedule alone would retry after 0.5 ms
		const rcv = await receiver((req, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 204 }));
		const ep = await endpoint(rcv.url('/busy'));
		await fire(ep);
		await rcv.waitFor(() => rcv.on('/busy').length >= 2, 15000);
		const [a, b] = rcv.on('/busy');
		assert.ok(b.at - a.at >= 330, `retried after ${b.at - a.at} ms`);
		const d = await waitDeliveries(ep, (d) => d.some((x) => x.outcome === 'delivered'));
		assert.equal(d[0].status_code, 429);
	});

	test('3xx is not followed and counts as a failure', async () => {
		const rcv = await receiver((req, n) =>
			req.path === '/moved' && n === 1 ? { status: 302, headers: { location: '/elsewhere' } } : { status: 204 }
		);
		const ep = await endpoint(rcv.url('/moved'));
		await fire(ep);
		const d = await waitDeliveries(ep, (d) => d.some((x) => x.outcome === 'delivered'));
		assert.deepEqual(d.map((x) => [x.status_code, x.outcome]), [[302, 'retrying'], [204, 'delivered']]);
		assert.equal(rcv.on('/elsewhere').length, 0, 'the Location was never fetched');
	});

	test('410 disables the endpoint; webhook.endpoint_disabled reaches only the endpoints subscribed to it', async () => {
		const gone = await receiver(() => ({ status: 410 }));
		const watch = await receiver(() => ({ status: 204 }));
		const ep = await endpoint(gone.url('/gone'));
		const all = await endpoint(watch.url('/all'), { events: ['*'] });
		const fam = await endpoint(watch.url('/family'), { events: ['webhook.*'] });
		const calls = await endpoint(watch.url('/calls'), { events: ['call.*', 'message.*'] });
		await fire(ep);
		const d = await waitDeliveries(ep, (d) => d.length >= 1 && d[0].outcome === 'disabled');
		assert.equal(d[0].status_code, 410);
		const got = h.expectStatus(await srv.req('GET', `/v1/webhooks/${ep.id}`, { token: T.token }), 200);
		assert.equal(got.enabled, false);
		assert.match(got.disabled_reason, /410/);
		await watch.waitFor(() => watch.on('/all').length >= 1 && watch.on('/family').length >= 1, 10000, 'disabled events');
		const ev = JSON.parse(watch.on('/all')[0].body);
		assert.equal(ev.type, 'webhook.endpoint_disabled');
		assert.equal(ev.data.endpoint_id, ep.id);
		new Webhook(all.secret).verify(watch.on('/all')[0].body, watch.on('/all')[0].headers);
		new Webhook(fam.secret).verify(watch.on('/family')[0].body, watch.on('/family')[0].headers);
		await h.sleep(300);
		assert.equal(watch.on('/calls').length, 0, 'call.*/message.* subscriber got nothing');
		assert.equal(gone.on('/gone').length, 1, 'no retry after 410');
		// re-enabling clears the state
		const p = await srv.req('PATCH', `/v1/webhooks/${ep.id}`, { token: T.token, json: { enabled: true } });
		assert.equal(h.expectStatus(p, 200).enabled, true);
		assert.equal(p.body.disabled_reason, null);
		void calls;
	});

	test('always failing: 8 attempts, exhausted, dead job; replay and job retry deliver it', async () => {
		let up = false;
		const rcv = await receiver(() => (up ? { status: 204 } : { status: 503 }));
		const ep = await endpoint(rcv.url('/down'));
		const evId = await fire(ep);
		const d = await waitDeliveries(ep, (d) => d.some((x) => x.outcome === 'exhausted'), 30000, 'exhaustion');
		assert.equal(d.length, 8);
		assert.deepEqual(d.map((x) => x.attempt), [1, 2, 3, 4, 5, 6, 7, 8]);
		assert.equal(d[7].outcome, 'exhausted');
		// spacing follows the schedule (scaled): the 7th gap is 10 h = 3.6 s
		const at = rcv.on('/down').map((r) => r.at);
		assert.ok(at[7] - at[6] >= 3000, `last gap ${at[7] - at[6]} ms`);
		assert.ok(at[2] - at[1] >= 20, `gap 2->3 ${at[2] - at[1]} ms`);
		// the job is dead and listed as such
		const dead = await h.listAll(srv, '/v1/jobs?state=dead&subject=webhook.deliver', { token: T.token });
		const job = dead.find((j) => j.payload && j.payload.event_id === evId);
		assert.ok(job, 'dead job listed');
		assert.equal(job.attempts, 8);
		assert.equal(job.last_error, 'HTTP 503');
		const one = h.expectStatus(await srv.req('GET', `/v1/jobs/${job.id}`, { token: T.token }), 200);
		assert.equal(one.state, 'dead');
		// the receiver is fixed: replay every final failure since before the event
		up = true;
		const since = new Date(Date.now() - 3600e3).toISOString();
		const rp = await srv.req('POST', `/v1/webhooks/${ep.id}/replay`, { token: T.token, json: { since } });
		assert.equal(h.expectStatus(rp, 202).replayed, 1);
		await rcv.waitFor(() => rcv.on('/down').filter((r) => r.at > at[7]).length >= 1, 10000, 'replayed delivery');
		const after = await waitDeliveries(ep, (d) => d.some((x) => x.outcome === 'delivered'));
		assert.equal(after.filter((x) => x.outcome === 'delivered').length, 1);
		// a second replay-all finds nothing left to replay
		assert.equal(h.expectStatus(await srv.req('POST', `/v1/webhooks/${ep.id}/replay`, { token: T.token, json: { since } }), 202).replayed, 0);
		// and the dead job can be retried through the jobs API too (delivered again)
		const n0 = rcv.on('/down').length;
		h.expectStatus(await srv.req('POST', `/v1/jobs/${job.id}/retry`, { token: T.token }), 202);
		await rcv.waitFor(() => rcv.on('/down').length > n0, 10000, 'job retry delivery');
		h.expectError(await srv.req('POST', `/v1/jobs/${job.id}/retry`, { token: T.token }), 409, 'job_not_dead');
		h.expectError(await srv.req('POST', `/v1/webhooks/${ep.id}/replay`, { token: T.token, json: { since: 'yesterday' } }), 400, 'invalid_field', 'since');
	});

	test('replay one delivery', async () => {
		const rcv = await receiver(() => ({ status: 204 }));
		const ep = await endpoint(rcv.url('/again'));
		const evId = await fire(ep);
		const d = await waitDeliveries(ep, (d) => d.length >= 1);
		const r = await srv.req('POST', `/v1/webhook-deliveries/${d[0].id}/replay`, { token: T.token });
		assert.match(h.expectStatus(r, 202).job_id, h.ID_RE('JB'));
		await rcv.waitFor(() => rcv.on('/again').length >= 2);
		assert.deepEqual(rcv.on('/again').map((x) => x.headers['webhook-id']), [evId, evId]);
		h.expectError(await srv.req('POST', `/v1/webhook-deliveries/WD${'0'.repeat(32)}/replay`, { token: T.token }), 404, 'not_found');
	});
});

describe('jobs API and isolation', () => {
	test('a tenant sees only its own jobs; a platform admin sees all', async (t0) => {
		const rcv = await receiver(() => ({ status: 204 }));
		const epB = await endpoint(rcv.url('/b'), {}, B);
		await fire(epB, B);
		await rcv.waitFor(() => rcv.on('/b').length >= 1);
		if (!STORE_BUS)
			return t0.skip('finished jobs are kept by the store bus only');
		const mine = await h.listAll(srv, '/v1/jobs', { token: T.token });
		assert.ok(mine.length > 0);
		assert.ok(mine.every((j) => j.tenant_id === T.tenantId));
		const bJobs = await h.listAll(srv, '/v1/jobs', { token: B.token });
		assert.ok(bJobs.length >= 1 && bJobs.every((j) => j.tenant_id === B.tenantId));
		h.expectError(await srv.req('GET', `/v1/jobs/${bJobs[0].id}`, { token: T.token }), 404, 'not_found');
		h.expectError(await srv.req('POST', `/v1/jobs/${bJobs[0].id}/retry`, { token: T.token }), 404, 'not_found');
		h.expectError(await srv.req('GET', `/v1/webhooks/${epB.id}/deliveries`, { token: T.token }), 404, 'not_found');
		const admin = await h.listAll(srv, '/v1/jobs', { token: srv.adminToken });
		const tenants = new Set(admin.map((j) => j.tenant_id));
		assert.ok(tenants.has(T.tenantId) && tenants.has(B.tenantId), 'platform admin sees every tenant');
		h.expectStatus(await srv.req('GET', `/v1/jobs/${bJobs[0].id}`, { token: srv.adminToken }), 200);
		const done = await h.listAll(srv, '/v1/jobs?state=done', { token: T.token });
		assert.ok(done.every((j) => j.state === 'done'));
		h.expectError(await srv.req('GET', '/v1/jobs?state=bogus', { token: T.token }), 400, 'invalid_query', 'state');
	});

	test('/metrics counts bus messages and webhook attempts', async () => {
		const t = (await srv.req('GET', '/metrics')).text;
		const val = (re) => {
			const m = re.exec(t);
			return m ? +m[1] : -1;
		};
		const be = STORE_BUS ? 'store' : 'nats';
		assert.ok(val(new RegExp(`^irisx_bus_messages_total\\{event="acked",backend="${be}"\\} (\\d+)$`, 'm')) > 0, t.slice(-800));
		assert.ok(val(new RegExp(`^irisx_bus_messages_total\\{event="dead",backend="${be}"\\} (\\d+)$`, 'm')) > 0);
		assert.ok(val(/^irisx_webhook_attempts_total\{result="delivered"\} (\d+)$/m) > 0);
		assert.ok(val(/^irisx_webhook_attempts_total\{result="failed"\} (\d+)$/m) > 0);
		assert.ok(val(/^irisx_webhook_in_flight (\d+)$/m) >= 0);
	});
});

describe('status callbacks', () => {
	test('form-encoded, X-Twilio-Signature verified by twilio.validateRequest', async () => {
		const rcv = await receiver(() => ({ status: 200 }));
		const tok = h.expectStatus(await srv.req('GET', '/v1/tenant/auth-token', { token: T.token }), 200);
		assert.match(tok.auth_token, /^[0-9a-f]{32}$/);
		assert.equal(tok.account_sid, T.tenantId);
		const again = h.expectStatus(await srv.req('GET', '/v1/tenant/auth-token', { token: T.token }), 200);
		assert.equal(again.auth_token, tok.auth_token, 'stable until rotated');
		const url = rcv.url('/status?x=1');
		const r = srv.cli(['admin', 'test-callback', '--tenant', T.tenantId, '--url', url, '--param', 'CallSid=CA' + 'a'.repeat(32),
			'--param', 'CallStatus=completed', '--param', 'From=+15550001111', '--param', 'Body=hello world & more ünïcode']);
		assert.equal(r.status, 0, r.stderr);
		await rcv.waitFor(() => rcv.on('/status').length >= 1, 10000, 'the callback');
		const got = rcv.on('/status')[0];
		assert.match(got.headers['content-type'], /application\/x-www-form-urlencoded/);
		const params = Object.fromEntries(new URLSearchParams(got.body));
		assert.equal(params.Body, 'hello world & more ünïcode');
		assert.equal(params.CallStatus, 'completed');
		const sig = got.headers['x-twilio-signature'];
		assert.ok(twilio.validateRequest(tok.auth_token, sig, url, params), 'signature valid');
		assert.ok(!twilio.validateRequest(tok.auth_token, sig, url, { ...params, CallStatus: 'failed' }), 'tampered params rejected');
		assert.ok(!twilio.validateRequest('0'.repeat(32), sig, url, params), 'wrong token rejected');
		// GET: parameters in the query, the whole URL signed
		const r2 = srv.cli(['admin', 'test-callback', '--tenant', T.tenantId, '--url', rcv.url('/status-get'), '--method', 'GET', '--param', 'CallStatus=ringing']);
		assert.equal(r2.status, 0, r2.stderr);
		await rcv.waitFor(() => rcv.on('/status-get').length >= 1, 10000, 'the GET callback');
		const g = rcv.on('/status-get')[0];
		assert.equal(g.method, 'GET');
		assert.ok(twilio.validateRequest(tok.auth_token, g.headers['x-twilio-signature'], `http://127.0.0.1:${rcv.port}${g.url}`, {}));
		// rotation changes the token
		const rot = h.expectStatus(await srv.req('POST', '/v1/tenant/auth-token/rotate', { token: T.token }), 200);
		assert.notEqual(rot.auth_token, tok.auth_token);
		h.expectError(await srv.req('GET', '/v1/tenant/auth-token', { token: (await h.createKey(srv, T.token, { role: 'developer' })).secret }), 403);
	});
});
