// 47: the Twilio-compatible REST surface (/2010-04-01) driven by the real `twilio` npm
// client, pointed at the local server by an httpClient that rewrites api.twilio.com: create,
// fetch, list, cancel and redirect of queued calls (no voice engine: calls stay queued),
// Twilio's error codes through RestException, AccountSid:AuthToken authentication and its
// rotation, tenant isolation, and an empty recordings page.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const twilio = require('twilio');
const RequestClient = require('twilio/lib/base/RequestClient');
const h = require('./lib/harness');

const NUM = '+15550004700';
let srv, A, B, tokA, tokB;

/* The twilio client's own HTTP client, with https://*.twilio.com/ sent to the local server. */
class LocalClient extends RequestClient {
	constructor(base) {
		super({});
		this.base = base;
	}
	request(opts) {
		return super.request({ ...opts, uri: opts.uri.replace(/^https:\/\/[^/]+\.twilio\.com/, this.base) });
	}
}

const client = (sid, token, account) => twilio(sid, token, { accountSid: account, httpClient: new LocalClient(srv.url) });

async function authToken(T, rotate = false) {
	const r = await srv.req(rotate ? 'POST' : 'GET', rotate ? '/v1/tenant/auth-token/rotate' : '/v1/tenant/auth-token', { token: T.token });
	return h.expectStatus(r, 200).auth_token;
}

async function rejects(p, status, code) {
	await assert.rejects(p, (e) => {
		assert.equal(e.constructor.name, 'RestException', String(e));
		assert.equal(e.status, status, e.message);
		assert.equal(e.code, code, e.message);
		assert.equal(e.moreInfo, `https://www.twilio.com/docs/errors/${code}`);
		return true;
	});
}

before(async () => {
	srv = await h.startServer({ tag: 'twrest', admin: true, env: { IRISX_OUTBOUND_ALLOW_PRIVATE: 'true' } });
	A = await h.registerTenant(srv, { tag: 'twa' });
	B = await h.registerTenant(srv, { tag: 'twb' });
	h.expectStatus(await srv.req('POST', '/v1/admin/phone-numbers', { token: srv.adminToken, json: { number: NUM, tenant_id: A.tenantId } }), 201);
	tokA = await authToken(A);
	tokB = await authToken(B);
});

after(async () => {
	if (srv)
		await srv.cleanup();
});

test('create, fetch, list: Twilio-shaped calls through the twilio client', async () => {
	const c = client(A.tenantId, tokA);
	const call = await c.calls.create({ to: '+15551234567', from: NUM, url: 'http://127.0.0.1:9/doc', statusCallbackEvent: ['initiated', 'answered'], timeout: 30 });
	assert.match(call.sid, /^CA[0-9a-f]{32}$/);
	assert.equal(call.status, 'queued');
	assert.equal(call.direction, 'outbound-api');
	assert.equal(call.accountSid, A.tenantId);
	assert.equal(call.to, '+15551234567');
	assert.equal(call.from, NUM);
	assert.equal(call.apiVersion, '2010-04-01');
	assert.equal(call.priceUnit, 'USD');
	assert.equal(call.price, null);
	assert.equal(call.parentCallSid, null);
	assert.equal(call.uri, `/2010-04-01/Accounts/${A.tenantId}/Calls/${call.sid}.json`);
	assert.equal(call.subresourceUris.recordings, `/2010-04-01/Accounts/${A.tenantId}/Calls/${call.sid}/Recordings.json`);
	assert.ok(call.dateCreated instanceof Date && Math.abs(call.dateCreated - Date.now()) < 120000, String(call.dateCreated));
	assert.equal(call.startTime, null);

	// the /v1 view is the same call, with the form's events and timeout
	const v1 = h.expectStatus(await srv.req('GET', `/v1/calls/${call.sid}`, { token: A.token }), 200);
	assert.deepEqual(v1.status_callback_events, ['initiated', 'answered']);
	assert.equal(v1.timeout, 30);

	const f = await c.calls(call.sid).fetch();
	assert.equal(f.sid, call.sid);
	assert.equal(f.status, 'queued');

	const other = await c.calls.create({ to: 'sip:bob@example.com', from: 'Desk', twiml: '<Response><Say>hi</Say></Response>' });
	const mine = await c.calls.list({ to: '+15551234567' });
	assert.deepEqual(mine.map((x) => x.sid), [call.sid]);
	const all = await c.calls.list();
	assert.deepEqual(all.map((x) => x.sid).sort(), [call.sid, other.sid].sort());
	// paging: pageSize 1 walks next_page_uri through both
	const paged = [];
	await c.calls.each({ pageSize: 1 }, (x) => paged.push(x.sid));
	assert.deepEqual(paged.sort(), [call.sid, other.sid].sort());
	const page = await c.calls.page({ pageSize: 1 });
	assert.equal(page.instances.length, 1);
	assert.ok(page.nextPageUrl, 'a next page');
	assert.deepEqual(await c.calls.list({ status: 'completed' }), []);
});

test('update: cancel and redirect a queued call', async () => {
	const c = client(A.tenantId, tokA);
	const a = await c.calls.create({ to: '+15551234568', from: NUM, url: 'http://127.0.0.1:9/doc' });
	const r = await c.calls(a.sid).update({ twiml: '<Response><Say>changed</Say></Response>' });
	assert.equal(r.status, 'queued');
	const v1 = h.expectStatus(await srv.req('GET', `/v1/calls/${a.sid}`, { token: A.token }), 200);
	assert.equal(v1.twiml, '<Response><Say>changed</Say></Response>');
	const x = await c.calls(a.sid).update({ status: 'canceled' });
	assert.equal(x.status, 'canceled');
	assert.ok(x.endTime instanceof Date);
	await rejects(c.calls(a.sid).update({ status: 'canceled' }), 409, 21220);
	await rejects(c.calls(a.sid).update({ status: 'busy' }), 400, 20001);
});

test('errors: Twilio codes through RestException', async () => {
	const c = client(A.tenantId, tokA);
	await rejects(c.calls.create({ to: 'not-a-number', from: NUM, url: 'http://127.0.0.1:9/doc' }), 400, 21211);
	await rejects(c.calls.create({ to: '+15551234567', from: 'x', url: 'http://127.0.0.1:9/doc' }), 400, 21212);
	await rejects(c.calls.create({ to: '+15551234567', from: '+15559999999', url: 'http://127.0.0.1:9/doc' }), 400, 21210);
	await rejects(c.calls.create({ to: '+15551234567', from: NUM, url: 'ftp://x' }), 400, 21205);
	await rejects(c.calls.create({ to: '+15551234567', from: NUM }), 400, 21205);
	await rejects(c.calls.create({ to: '+15551234567', from: NUM, url: 'http://127.0.0.1:9/doc', timeout: 1 }), 400, 20001);
	await rejects(c.calls.create({ to: '+15551234567', from: NUM, url: 'http://127.0.0.1:9/doc', machineDetection: 'Enable' }), 400, 20001);
	await rejects(c.calls('CA' + '0'.repeat(32)).fetch(), 404, 20404);
	await rejects(c.calls('nope').fetch(), 404, 20404);
	// the raw error body is Twilio's shape
	const r = await srv.req('GET', `/2010-04-01/Accounts/${A.tenantId}/Calls.json`);
	assert.equal(r.status, 401);
	assert.deepEqual(Object.keys(r.body).sort(), ['code', 'message', 'more_info', 'status']);
	assert.equal(r.body.code, 20003);
	assert.equal(r.body.status, 401);
});

test('auth: wrong token 401 (20003), API keys work, rotation stops the old token', async () => {
	await rejects(client(A.tenantId, 'f'.repeat(32)).calls.list(), 401, 20003);
	await rejects(client(A.tenantId, tokB).calls.list(), 401, 20003);
	// an API key (Twilio's SK keys): KeySid:secret with the account given apart
	const key = h.expectStatus(await srv.req('POST', '/v1/api-keys', { token: A.token, json: { name: 'tw', role: 'developer' } }), 201);
	const viaKey = await client(key.id, key.secret, A.tenantId).calls.list();
	assert.ok(viaKey.length >= 2);
	// the token works (and is cached), then rotation drops it at once
	const old = client(A.tenantId, tokA);
	assert.ok((await old.calls.list()).length >= 2);
	const fresh = await authToken(A, true);
	assert.notEqual(fresh, tokA);
	await rejects(old.calls.list(), 401, 20003);
	assert.ok((await client(A.tenantId, fresh).calls.list()).length >= 2);
	tokA = fresh;
});

test('tenant isolation: B cannot reach A through A\'s AccountSid or A\'s call sids', async () => {
	const a = await client(A.tenantId, tokA).calls.create({ to: '+15551234569', from: NUM, url: 'http://127.0.0.1:9/doc' });
	const b = client(B.tenantId, tokB);
	await rejects(b.calls(a.sid).fetch(), 404, 20404);
	await rejects(b.calls(a.sid).update({ status: 'canceled' }), 404, 20404);
	// B's credentials with A's AccountSid in the path
	const cross = client(B.tenantId, tokB, A.tenantId);
	await rejects(cross.calls.list(), 404, 20404);
	await rejects(cross.calls(a.sid).fetch(), 404, 20404);
	await rejects(cross.calls.create({ to: '+15551234567', from: NUM, url: 'http://127.0.0.1:9/doc' }), 404, 20404);
	await rejects(cross.recordings.list(), 404, 20404);
	assert.deepEqual(await b.calls.list(), []);
	assert.equal((await client(A.tenantId, tokA).calls(a.sid).fetch()).status, 'queued');
});

test('recordings: empty pages parsed by the client; unknown ones 404', async () => {
	const c = client(A.tenantId, tokA);
	assert.deepEqual(await c.recordings.list(), []);
	const page = await c.recordings.page();
	assert.equal(page.instances.length, 0);
	assert.equal(page.nextPageUrl, undefined);
	const [call] = await c.calls.list({ limit: 1 });
	assert.deepEqual(await c.calls(call.sid).recordings.list(), []);
	await rejects(c.recordings('RE' + '0'.repeat(32)).fetch(), 404, 20404);
	await rejects(c.recordings('RE' + '0'.repeat(32)).remove(), 404, 20404);
	const raw = await srv.req('GET', `/2010-04-01/Accounts/${A.tenantId}/Recordings.json?PageSize=5`, { headers: { Authorization: 'Basic ' + Buffer.from(`${A.tenantId}:${tokA}`).toString('base64') } });
	const body = h.expectStatus(raw, 200);
	assert.deepEqual(body.recordings, []);
	assert.equal(body.page_size, 5);
	assert.equal(body.next_page_uri, null);
	assert.equal(body.first_page_uri, `/2010-04-01/Accounts/${A.tenantId}/Recordings.json?PageSize=5&Page=0`);
});
