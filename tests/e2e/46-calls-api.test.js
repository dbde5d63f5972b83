// 46: the Calls REST API on a real server without the voice engine (calls stay queued):
// create with every validation error, idempotent replay, list filters and pages, fetch,
// cancel / hang up / redirect of a queued call, transfer refused before answer, the CSV
// export, and call.queued / call.completed delivered to a webhook receiver.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');

const NUM = '+15550004600';
let srv, T, hook;

const call = (json, o = {}) => srv.req('POST', '/v1/calls', { token: T.token, json, ...o });
const twiml = '<Response><Say>hello</Say></Response>';

before(async () => {
	hook = await startReceiver(() => ({ status: 204 }));
	srv = await h.startServer({ tag: 'calls', admin: true, env: { IRISX_OUTBOUND_ALLOW_PRIVATE: 'true' } });
	T = await h.registerTenant(srv, { tag: 'calls' });
	h.expectStatus(await srv.req('POST', '/v1/admin/phone-numbers', { token: srv.adminToken, json: { number: NUM, tenant_id: T.tenantId } }), 201);
	h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: T.token, json: { url: hook.url('/events'), events: ['call.*'] } }), 201);
});

after(async () => {
	if (hook)
		await hook.close();
	if (srv)
		await srv.cleanup();
});

test('create: 201, queued, the fields as sent and the defaults', async () => {
	const c = h.expectStatus(
		await call({ from: NUM, to: '+15551234567', url: hook.url('/doc'), status_callback: hook.url('/status'), status_callback_events: 'ringing answered completed', record: true }),
		201
	);
	assert.match(c.id, /^CA[0-9a-f]{32}$/);
	assert.equal(c.status, 'queued');
	assert.equal(c.direction, 'outbound-api');
	assert.equal(c.from, NUM);
	assert.equal(c.to, '+15551234567');
	assert.equal(c.url, hook.url('/doc'));
	assert.equal(c.method, 'POST');
	assert.equal(c.status_callback_method, 'POST');
	assert.deepEqual(c.status_callback_events, ['ringing', 'answered', 'completed']);
	assert.equal(c.timeout, 60);
	assert.equal(c.time_limit, 14400);
	assert.equal(c.record, true);
	assert.equal(c.parent_call_id, null);
	assert.equal(c.duration, 0);
	assert.equal(c.price, null);
	assert.deepEqual(c.attempts, []);
	assert.deepEqual(c.recording_ids, []);
	for (const k of ['answered_at', 'ended_at', 'start_time', 'ringing_at'])
		assert.equal(c[k], null, k);
	assert.ok(Date.parse(c.created_at) > Date.now() - 60000);
	assert.equal(c.engine_run, undefined, 'internal columns are not shown');
	// sip: and client: callees take any caller id; GET documents, events as an array
	const s = h.expectStatus(await call({ from: 'Reception', to: 'sip:alice@example.com:5080;transport=tls', twiml, timeout: 5, time_limit: 1 }), 201);
	assert.equal(s.from, 'Reception');
	assert.equal(s.twiml, twiml);
	assert.deepEqual(s.status_callback_events, ['completed']);
	assert.equal(s.timeout, 5);
	const d = h.expectStatus(await call({ from: NUM, to: 'client:alice', url: hook.url('/doc'), method: 'GET', status_callback_events: ['completed', 'initiated'], timeout: 600, time_limit: 86400 }), 201);
	assert.equal(d.method, 'GET');
	assert.deepEqual(d.status_callback_events, ['initiated', 'completed']);
	const got = h.expectStatus(await srv.req('GET', `/v1/calls/${c.id}`, { token: T.token }), 200);
	assert.deepEqual(got, c, 'fetch answers what create answered');
});

test('create: every validation error has its code and field', async () => {
	const ok = { from: NUM, to: '+15551234567', twiml };
	const cases = [
		[{ to: ok.to, twiml }, 'missing_field', 'from'],
		[{ from: NUM, twiml }, 'missing_field', 'to'],
		[{ ...ok, extra: 1 }, 'unknown_field', 'extra'],
		[{ ...ok, to: 15551234567 }, 'invalid_type', 'to'],
		[{ ...ok, record: 'yes' }, 'invalid_type', 'record'],
		[{ ...ok, twiml: 'x'.repeat(65537) }, 'too_long', 'twiml'],
		[{ ...ok, to: '15551234567' }, 'invalid_to', 'to'],
		[{ ...ok, to: '+0551234567' }, 'invalid_to', 'to'],
		[{ ...ok, to: '+1555' }, 'invalid_to', 'to'],
		[{ ...ok, to: 'sip:@example.com' }, 'invalid_to', 'to'],
		[{ ...ok, to: 'sip:bob@example.com;transport=sctp' }, 'invalid_to', 'to'],
		[{ ...ok, to: 'sip:bob@example.com:70000' }, 'invalid_to', 'to'],
		[{ ...ok, to: 'sip:bob@' + 'a'.repeat(260) + '.com' }, 'invalid_to', 'to'],
		[{ ...ok, to: 'client:' }, 'invalid_to', 'to'],
		[{ ...ok, to: 'client:bad name' }, 'invalid_to', 'to'],
		[{ ...ok, to: 'tel:+15551234567' }, 'invalid_to', 'to'],
		[{ ...ok, from: 'Reception' }, 'invalid_from', 'from'],
		[{ ...ok, from: '+15559999999' }, 'from_not_owned', 'from'],
		[{ ...ok, from: 'x'.repeat(65), to: 'sip:bob@example.com' }, 'invalid_from', 'from'],
		[{ from: NUM, to: ok.to }, 'missing_field', 'url'],
		[{ ...ok, url: 'https://example.com/doc' }, 'conflicting_fields', 'url'],
		[{ ...ok, twiml: undefined, application_id: 'AP' + '0'.repeat(32) }, 'invalid_application', 'application_id'],
		[{ ...ok, twiml: undefined, url: 'ftp://example.com/doc' }, 'invalid_url', 'url'],
		[{ ...ok, twiml: '' }, 'invalid_field', 'twiml'],
		[{ ...ok, method: 'PUT' }, 'invalid_field', 'method'],
		[{ ...ok, fallback_url: 'not a url' }, 'invalid_url', 'fallback_url'],
		[{ ...ok, fallback_method: 'DELETE' }, 'invalid_field', 'fallback_method'],
		[{ ...ok, status_callback: 'gopher://x' }, 'invalid_url', 'status_callback'],
		[{ ...ok, status_callback_method: 'HEAD' }, 'invalid_field', 'status_callback_method'],
		[{ ...ok, status_callback_events: 'ringing hungup' }, 'invalid_field', 'status_callback_events'],
		[{ ...ok, status_callback_events: [1] }, 'invalid_type', 'status_callback_events'],
		[{ ...ok, status_callback_events: { a: 1 } }, 'invalid_type', 'status_callback_events'],
		[{ ...ok, timeout: 4 }, 'invalid_field', 'timeout'],
		[{ ...ok, timeout: 601 }, 'invalid_field', 'timeout'],
		[{ ...ok, time_limit: 0 }, 'invalid_field', 'time_limit'],
		[{ ...ok, time_limit: 86401 }, 'invalid_field', 'time_limit'],
	];
	for (const [json, code, field] of cases)
		h.expectError(await call(json), 400, code, field);
	// nothing was created by the refusals
	const all = await h.listAll(srv, '/v1/calls?to=%2B15551234567', { token: T.token });
	assert.ok(all.every((c) => c.from === NUM));
	// a viewer may read but not call
	const viewer = await h.createKey(srv, T.token, { role: 'viewer' });
	h.expectError(await srv.req('POST', '/v1/calls', { token: viewer.secret, json: ok }), 403, 'forbidden');
	h.expectStatus(await srv.req('GET', '/v1/calls', { token: viewer.secret }), 200);
});

test('create: an Idempotency-Key replays the first answer and creates one call', async () => {
	const key = `call-${h.rand(6)}`;
	const json = { from: NUM, to: '+15557770001', twiml };
	const a = await call(json, { headers: { 'Idempotency-Key': key } });
	h.expectStatus(a, 201);
	const b = await call(json, { headers: { 'Idempotency-Key': key } });
	h.expectStatus(b, 201);
	assert.equal(b.h('Idempotent-Replayed'), 'true');
	assert.equal(b.body.id, a.body.id);
	const list = await h.listAll(srv, '/v1/calls?to=%2B15557770001', { token: T.token });
	assert.equal(list.length, 1);
	h.expectStatus(await call({ ...json, to: '+15557770002' }, { headers: { 'Idempotency-Key': key } }), 422);
});

test('list: filters, time range and pages, newest first', async () => {
	const t0 = new Date().toISOString();
	await h.sleep(5);
	const ids = [];
	for (let i = 0; i < 5; i++)
		ids.push(h.expectStatus(await call({ from: NUM, to: '+15558880000', twiml }), 201).id);
	await h.sleep(5);
	const t1 = new Date().toISOString();
	const page = h.expectStatus(await srv.req('GET', '/v1/calls?to=%2B15558880000&limit=2', { token: T.token }), 200);
	assert.deepEqual(page.data.map((c) => c.id), [ids[4], ids[3]]);
	assert.equal(page.next_cursor, ids[3]);
	const all = await h.listAll(srv, '/v1/calls?to=%2B15558880000', { token: T.token }, 2);
	assert.deepEqual(all.map((c) => c.id), ids.slice().reverse());
	const q = (s) => h.listAll(srv, `/v1/calls?${s}`, { token: T.token });
	assert.equal((await q(`start_time_after=${encodeURIComponent(t0)}&start_time_before=${encodeURIComponent(t1)}`)).length, 5);
	assert.equal((await q(`start_time_after=${encodeURIComponent(t1)}`)).length, 0);
	assert.ok((await q(`start_time_before=${encodeURIComponent(t0)}`)).every((c) => !ids.includes(c.id)));
	assert.equal((await q('to=%2B15558880000&status=queued&direction=outbound-api&from=' + encodeURIComponent(NUM))).length, 5);
	assert.equal((await q('to=%2B15558880000&status=completed')).length, 0);
	assert.equal((await q('to=%2B15558880000&direction=inbound')).length, 0);
	assert.equal((await q(`parent_call_id=${ids[0]}`)).length, 0);
	h.expectError(await srv.req('GET', '/v1/calls?start_time_after=yesterday', { token: T.token }), 400, 'invalid_parameter', 'start_time_after');
	h.expectError(await srv.req('GET', '/v1/calls?limit=0', { token: T.token }), 400, 'invalid_parameter', 'limit');
	h.expectError(await srv.req('GET', '/v1/calls/CA' + '0'.repeat(32), { token: T.token }), 404, 'not_found');
	h.expectError(await srv.req('GET', '/v1/calls/SM' + '0'.repeat(32), { token: T.token }), 404, 'not_found');
});

test('cancel a queued call: canceled, final, ended; a second cancel is 409 call_ended', async () => {
	const c = h.expectStatus(await call({ from: NUM, to: '+15556660001', twiml }), 201);
	const r = h.expectStatus(await srv.req('POST', `/v1/calls/${c.id}`, { token: T.token, json: { status: 'canceled' } }), 200);
	assert.equal(r.status, 'canceled');
	assert.equal(r.end_reason, 'canceled by API');
	assert.ok(r.ended_at && Date.parse(r.ended_at) >= Date.parse(r.created_at));
	assert.equal(r.duration, 0);
	h.expectError(await srv.req('POST', `/v1/calls/${c.id}`, { token: T.token, json: { status: 'canceled' } }), 409, 'call_ended');
	h.expectError(await srv.req('POST', `/v1/calls/${c.id}`, { token: T.token, json: { status: 'completed' } }), 409, 'call_ended');
	h.expectError(await srv.req('POST', `/v1/calls/${c.id}`, { token: T.token, json: { url: hook.url('/x') } }), 409, 'call_ended');
	h.expectError(await srv.req('POST', `/v1/calls/${c.id}/transfer`, { token: T.token, json: { to: '+15551112222' } }), 409, 'call_ended');
	const got = h.expectStatus(await srv.req('GET', `/v1/calls/${c.id}`, { token: T.token }), 200);
	assert.equal(got.status, 'canceled');
	assert.equal(got.ended_at, r.ended_at);
});

test('hang up and redirect a queued call; transfer before answer is 409', async () => {
	// status completed on a call that was never dialled cancels it (as Twilio's)
	const a = h.expectStatus(await call({ from: NUM, to: '+15556660002', twiml }), 201);
	const hung = h.expectStatus(await srv.req('POST', `/v1/calls/${a.id}`, { token: T.token, json: { status: 'completed' } }), 200);
	assert.equal(hung.status, 'canceled');
	// a redirect of a queued call replaces its document: the dialler runs the new one
	const b = h.expectStatus(await call({ from: NUM, to: '+15556660003', twiml }), 201);
	const red = h.expectStatus(await srv.req('POST', `/v1/calls/${b.id}`, { token: T.token, json: { url: hook.url('/new'), method: 'GET' } }), 200);
	assert.equal(red.status, 'queued');
	assert.equal(red.url, hook.url('/new'));
	assert.equal(red.method, 'GET');
	assert.ok(!red.twiml, 'the old document is gone');
	const red2 = h.expectStatus(await srv.req('POST', `/v1/calls/${b.id}`, { token: T.token, json: { twiml: '<Response><Hangup/></Response>' } }), 200);
	assert.equal(red2.twiml, '<Response><Hangup/></Response>');
	assert.ok(!red2.url);
	h.expectError(await srv.req('POST', `/v1/calls/${b.id}/transfer`, { token: T.token, json: { to: '+15551112222' } }), 409, 'call_not_in_progress');
	// bad commands
	const bad = [
		[{}, 'missing_field', 'url'],
		[{ status: 'busy' }, 'invalid_field', 'status'],
		[{ status: 'completed', url: hook.url('/x') }, 'conflicting_fields', 'status'],
		[{ url: 'ftp://x' }, 'invalid_url', 'url'],
		[{ url: hook.url('/x'), method: 'PUT' }, 'invalid_field', 'method'],
		[{ url: hook.url('/x'), twiml }, 'missing_field', 'url'],
		[{ nope: 1 }, 'unknown_field', 'nope'],
	];
	for (const [json, code, field] of bad)
		h.expectError(await srv.req('POST', `/v1/calls/${b.id}`, { token: T.token, json }), 400, code, field);
	for (const [json, code, field] of [
		[{}, 'missing_field', 'to'],
		[{ to: 'nowhere' }, 'invalid_to', 'to'],
		[{ to: '+15551112222', mode: 'warm' }, 'invalid_field', 'mode'],
	])
		h.expectError(await srv.req('POST', `/v1/calls/${b.id}/transfer`, { token: T.token, json }), 400, code, field);
	h.expectError(await srv.req('POST', `/v1/calls/CA${'0'.repeat(32)}`, { token: T.token, json: { status: 'canceled' } }), 404, 'not_found');
	h.expectError(await srv.req('POST', `/v1/calls/CA${'0'.repeat(32)}/transfer`, { token: T.token, json: { to: '+15551112222' } }), 404, 'not_found');
});

test('export: CSV with a header row, the filters, quoting', async () => {
	// (a caller id may hold a comma but no double quote: it becomes a SIP display name)
	h.expectError(await call({ from: 'Front "desk"', to: 'sip:csv@example.com', twiml }), 400, 'invalid_from', 'from');
	const quoted = 'Front desk, 2nd floor';
	const a = h.expectStatus(await call({ from: quoted, to: 'sip:csv@example.com', twiml }), 201);
	const b = h.expectStatus(await call({ from: NUM, to: 'sip:csv@example.com', twiml }), 201);
	h.expectStatus(await srv.req('POST', `/v1/calls/${b.id}`, { token: T.token, json: { status: 'canceled' } }), 200);
	const r = await srv.req('GET', '/v1/calls/export?to=' + encodeURIComponent('sip:csv@example.com'), { token: T.token });
	h.expectStatus(r, 200);
	assert.match(r.h('content-type'), /^text\/csv/);
	const lines = r.text.split('\r\n');
	assert.equal(lines[0], 'id,parent_call_id,direction,from,to,status,created_at,answered_at,ended_at,duration,billed_seconds,price,sip_code,q850_cause,end_reason,carrier_id');
	assert.equal(lines.length, 4, r.text); // header, two rows, the empty tail
	assert.equal(lines[3], '');
	assert.ok(lines[1].startsWith(b.id + ',,outbound-api,' + NUM + ',sip:csv@example.com,canceled,'), lines[1]);
	assert.ok(lines[1].endsWith(',0,0,,,,canceled by API,'), lines[1]);
	assert.ok(lines[2].startsWith(`${a.id},,outbound-api,"Front desk, 2nd floor",sip:csv@example.com,queued,`), lines[2]);
	const one = await srv.req('GET', '/v1/calls/export?status=canceled&to=' + encodeURIComponent('sip:csv@example.com'), { token: T.token });
	assert.equal(one.text.split('\r\n').length, 3);
	h.expectError(await srv.req('GET', '/v1/calls/export?start_time_before=never', { token: T.token }), 400, 'invalid_parameter');
	h.expectError(await srv.req('GET', '/v1/calls/export'), 401);
});

test('call.queued and call.completed reach the webhook receiver', async () => {
	const c = h.expectStatus(await call({ from: NUM, to: '+15554440001', twiml }), 201);
	h.expectStatus(await srv.req('POST', `/v1/calls/${c.id}`, { token: T.token, json: { status: 'canceled' } }), 200);
	const events = () => hook.on('/events').map((r) => JSON.parse(r.body)).filter((e) => e.data && e.data.call_sid === c.id);
	await hook.waitFor(() => events().length >= 2, 20000, 'call events');
	const [q, done] = ['call.queued', 'call.completed'].map((t) => events().find((e) => e.type === t));
	assert.ok(q && done, JSON.stringify(events()));
	assert.equal(q.data.status, 'queued');
	assert.equal(q.data.account_sid, T.tenantId);
	assert.equal(q.data.from, NUM);
	assert.equal(q.data.to, '+15554440001');
	assert.equal(q.data.direction, 'outbound-api');
	assert.equal(q.data.parent_call_sid, null);
	assert.equal(q.data.answered_at, null);
	assert.equal(q.data.duration, 0);
	assert.equal(done.data.status, 'canceled');
	assert.ok(done.data.ended_at);
	assert.equal(done.data.hangup_by, 'system');
	const types = h.expectStatus(await srv.req('GET', '/v1/webhooks/event-types', { token: T.token }), 200);
	const names = (types.data || types).map((t) => t.type || t.name);
	assert.ok(names.includes('call.queued'), JSON.stringify(names));
});
