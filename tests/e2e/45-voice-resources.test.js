// 45: the voice resources over the real API: carriers in both scopes (validation naming
// each field, the password never shown), rate decks as CSV and JSON, number ranges and the
// numbers' voice fields, applications (TwiML from the twilio package, broken XML and DTDs
// refused, an IVR form compiled), dialplan rules and their match, text to speech (the WAV
// header, the same text the same id, byte ranges) and the voices list.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const twilio = require('twilio');
const h = require('./lib/harness');

let srv, T, V;

const admin = (method, p, o = {}) => srv.req(method, p, { token: srv.adminToken, ...o });
const ten = (method, p, o = {}) => srv.req(method, p, { token: T.token, ...o });
const csv = (body) => ({ body, headers: { 'content-type': 'text/csv' } });

before(async () => {
	srv = await h.startServer({ tag: 'voice-res', admin: true });
	T = await h.registerTenant(srv, { tag: 'vres' });
	V = await h.createKey(srv, T.token, { role: 'viewer', name: 'viewer' });
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

describe('carriers', () => {
	test('operator CRUD; the password is never shown back', async () => {
		const c = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: 'op', host: '10.0.0.5', username: 'u1', password: 's3cret', register: true, tech_prefix: '99', caller_id: '+15550001234' } }), 201);
		assert.match(c.id, h.ID_RE('TK'));
		assert.equal(c.tenant_id, null);
		assert.equal(c.password, undefined);
		assert.equal(c.has_password, true);
		assert.equal(c.register, true);
		assert.equal(c.register_expires, 3600);
		assert.equal(c.port, 5060);
		assert.equal(c.transport, 'udp');
		assert.ok(!JSON.stringify(c).includes('s3cret'));
		const list = h.expectStatus(await admin('GET', '/v1/admin/carriers'), 200);
		assert.ok(list.data.some((x) => x.id === c.id));
		assert.ok(!JSON.stringify(list).includes('s3cret'));
		const p = h.expectStatus(await admin('PATCH', `/v1/admin/carriers/${c.id}`, { json: { register: false, weight: 5, password: '' } }), 200);
		assert.equal(p.register, false);
		assert.equal(p.has_password, false);
		assert.equal(p.weight, 5);
		assert.equal(p.username, 'u1');
		// operator carriers are not the tenant's
		h.expectError(await ten('GET', `/v1/carriers/${c.id}`), 404, 'not_found');
		h.expectStatus(await admin('DELETE', `/v1/admin/carriers/${c.id}`), 204);
		h.expectError(await admin('GET', `/v1/admin/carriers/${c.id}`), 404, 'not_found');
	});

	test('tenant carriers: own CRUD, private hosts refused, admin role needed', async () => {
		const c = h.expectStatus(await ten('POST', '/v1/carriers', { json: { name: 'byo', host: 'sip.example.com', port: 5061, transport: 'tls', number_format: 'digits', ping_ms: 0 } }), 201);
		assert.equal(c.tenant_id, T.tenantId);
		assert.equal(c.has_password, false);
		assert.equal(c.ping_ms, 0);
		h.expectError(await ten('POST', '/v1/carriers', { json: { name: 'x', host: '127.0.0.1' } }), 400, 'invalid_field', 'host');
		h.expectError(await ten('POST', '/v1/carriers', { json: { name: 'x', host: '192.168.1.1' } }), 400, 'invalid_field', 'host');
		h.expectError(await srv.req('GET', '/v1/carriers', { token: V.secret }), 403, 'forbidden');
		h.expectError(await srv.req('GET', '/v1/admin/carriers', { token: T.token }), 403, 'forbidden');
		assert.ok(h.expectStatus(await ten('GET', '/v1/carriers'), 200).data.some((x) => x.id === c.id));
		h.expectStatus(await ten('DELETE', `/v1/carriers/${c.id}`), 204);
	});

	test('validation errors name their field', async () => {
		const cases = [
			[{ host: 'h.example.com' }, 'missing_field', 'name'],
			[{ name: 'x' }, 'missing_field', 'host'],
			[{ name: 'x', host: 'user:pw@h.example.com' }, 'invalid_field', 'host'],
			[{ name: 'x', host: 'h example.com' }, 'invalid_field', 'host'],
			[{ name: 'x', host: 'h.example.com/path' }, 'invalid_field', 'host'],
			[{ name: 'x', host: 'h.example.com', port: 0 }, 'invalid_field', 'port'],
			[{ name: 'x', host: 'h.example.com', port: 70000 }, 'invalid_field', 'port'],
			[{ name: 'x', host: 'h.example.com', transport: 'sctp' }, 'invalid_field', 'transport'],
			[{ name: 'x', host: 'h.example.com', username: 'u', register: true, register_expires: 30 }, 'invalid_field', 'register_expires'],
			[{ name: 'x', host: 'h.example.com', register: true }, 'invalid_field', 'username'],
			[{ name: 'x', host: 'h.example.com', number_format: 'national' }, 'invalid_field', 'number_format'],
			[{ name: 'x', host: 'h.example.com', tech_prefix: '12a' }, 'invalid_field', 'tech_prefix'],
			[{ name: 'x', host: 'h.example.com', tech_prefix: '12345678901' }, 'too_long', 'tech_prefix'],
			[{ name: 'x', host: 'h.example.com', caller_id: '5551234' }, 'invalid_field', 'caller_id'],
			[{ name: 'x', host: 'h.example.com', max_channels: -1 }, 'invalid_field', 'max_channels'],
			[{ name: 'x', host: 'h.example.com', cps_limit: -1 }, 'invalid_field', 'cps_limit'],
			[{ name: 'x', host: 'h.example.com', weight: 0 }, 'invalid_field', 'weight'],
			[{ name: 'x', host: 'h.example.com', ping_ms: 500 }, 'invalid_field', 'ping_ms'],
			[{ name: 'x', host: 'h.example.com', port: '5060' }, 'invalid_type', 'port'],
			[{ name: 'x', host: 'h.example.com', colour: 'red' }, 'unknown_field', 'colour'],
		];
		for (const [json, code, field] of cases)
			h.expectError(await admin('POST', '/v1/admin/carriers', { json }), 400, code, field);
	});

	test('rate decks: CSV (header skipped, 60/60 and 1/1), JSON, bad lines named', async () => {
		const c = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: 'rated', host: 'rated.example.com' } }), 201);
		const deck = 'prefix,cost_per_min,min_s,incr_s\r\n+1,0.0123,60,60\n1555,0.5,1,1\n\n# comment\n44, 0.02 ,30,6\n33,1\n';
		const r = h.expectStatus(await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, csv(deck)), 200);
		assert.equal(r.rates, 4);
		const got = h.expectStatus(await admin('GET', `/v1/admin/carriers/${c.id}/rates`), 200).data;
		const by = Object.fromEntries(got.map((x) => [x.prefix, x]));
		assert.deepEqual([by['1'].cost_micros, by['1'].min_s, by['1'].incr_s], [12300, 60, 60]);
		assert.deepEqual([by['1555'].cost_micros, by['1555'].min_s, by['1555'].incr_s], [500000, 1, 1]);
		assert.deepEqual([by['44'].cost_micros, by['44'].min_s, by['44'].incr_s], [20000, 30, 6]);
		assert.deepEqual([by['33'].cost_micros, by['33'].min_s, by['33'].incr_s], [1000000, 60, 60]);
		assert.equal(by['1'].cost_per_min, 0.0123);
		for (const [bad, line, what] of [
			['1,0.01\n44,abc\n', 2, /cost_per_min/],
			['1,0.01\n2,0.01\nx1,0.01\n', 3, /prefix/],
			['1,0.01,60\n', 1, /expected prefix/],
			['1,0.01,60,0\n', 1, /incr_s/],
			['1,0.0000001\n', 1, /decimals/],
			['1,5000\n', 1, /cost_per_min/],
		]) {
			const e = await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, csv(bad));
			h.expectError(e, 400, 'invalid_csv', 'csv');
			assert.match(e.body.error.message, new RegExp(`^line ${line}: `));
			assert.match(e.body.error.message, what);
		}
		h.expectError(await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, csv('1,0.1\n+1,0.2\n')), 400, 'invalid_rates');
		// the deck is unchanged by the refusals
		assert.equal(h.expectStatus(await admin('GET', `/v1/admin/carriers/${c.id}/rates`), 200).data.length, 4);
		const j = await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, { json: { rates: [{ prefix: '+49', cost_per_min: 0.015, min_s: 30, incr_s: 6 }] } });
		assert.equal(h.expectStatus(j, 200).rates, 1);
		const after = h.expectStatus(await admin('GET', `/v1/admin/carriers/${c.id}/rates`), 200).data;
		assert.deepEqual(after.map((x) => [x.prefix, x.cost_micros, x.min_s, x.incr_s]), [['49', 15000, 30, 6]]);
		h.expectError(await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, { json: { rates: [{ prefix: '49' }] } }), 400, 'invalid_rates', 'rates');
		h.expectError(await admin('PUT', `/v1/admin/carriers/TK${'0'.repeat(32)}/rates`, csv('1,0.1\n')), 404, 'not_found');
	});
});

describe('phone numbers', () => {
	let carrier, app, range;
	before(async () => {
		carrier = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: 'numbers', host: 'numbers.example.com' } }), 201);
		app = h.expectStatus(await ten('POST', '/v1/applications', { json: { name: 'n', kind: 'document', document: '<Response><Hangup/></Response>' } }), 201);
	});

	test('a range in one transaction, with a carrier', async () => {
		const base = 1555010000 + Math.floor(Math.random() * 9000) * 10;
		const r = await admin('POST', '/v1/admin/phone-numbers', { json: { range_start: `+${base}`, count: 5, tenant_id: T.tenantId, carrier_id: carrier.id } });
		range = h.expectStatus(r, 201).data;
		assert.deepEqual(range.map((n) => n.number), [0, 1, 2, 3, 4].map((i) => `+${base + i}`));
		assert.ok(range.every((n) => n.carrier_id === carrier.id && n.tenant_id === T.tenantId && n.voice_url === null));
		// overlapping: nothing is made
		const o = await admin('POST', '/v1/admin/phone-numbers', { json: { range_start: `+${base + 3}`, count: 4 } });
		h.expectError(o, 409, 'conflict', 'range_start');
		const all = await h.listAll(srv, '/v1/admin/phone-numbers', { token: srv.adminToken });
		assert.ok(!all.some((n) => n.number === `+${base + 5}`), 'the rolled back range left no number');
		h.expectError(await admin('POST', '/v1/admin/phone-numbers', { json: { range_start: '+15550100000', count: 1001 } }), 400, 'invalid_field', 'count');
		h.expectError(await admin('POST', '/v1/admin/phone-numbers', { json: { range_start: '+999999999999999', count: 2 } }), 400, 'invalid_field', 'count');
		h.expectError(await admin('POST', '/v1/admin/phone-numbers', { json: { number: '+15551231234', carrier_id: 'TK' + '1'.repeat(32) } }), 400, 'unknown_carrier', 'carrier_id');
		const p = await admin('PATCH', `/v1/admin/phone-numbers/${range[0].id}`, { json: { carrier_id: null } });
		assert.equal(h.expectStatus(p, 200).carrier_id, null);
		assert.equal(p.body.tenant_id, T.tenantId);
	});

	test('voice fields on the tenant PATCH, sms fields still work', async () => {
		const n = range[1];
		const r = await ten('PATCH', `/v1/phone-numbers/${n.id}`, {
			json: { voice_url: 'https://example.com/voice', voice_method: 'GET', voice_fallback_url: 'https://example.com/fb', voice_fallback_method: 'POST', voice_status_callback: 'https://example.com/st', voice_application_id: app.id },
		});
		const b = h.expectStatus(r, 200);
		assert.deepEqual([b.voice_url, b.voice_method, b.voice_fallback_url, b.voice_fallback_method, b.voice_status_callback, b.voice_application_id], ['https://example.com/voice', 'GET', 'https://example.com/fb', 'POST', 'https://example.com/st', app.id]);
		const s = h.expectStatus(await ten('PATCH', `/v1/phone-numbers/${n.id}`, { json: { sms_url: 'https://example.com/sms' } }), 200);
		assert.equal(s.sms_url, 'https://example.com/sms');
		assert.equal(s.voice_url, 'https://example.com/voice', 'sms PATCH leaves voice');
		const c = h.expectStatus(await ten('PATCH', `/v1/phone-numbers/${n.id}`, { json: { voice_url: '', voice_application_id: '' } }), 200);
		assert.equal(c.voice_url, null);
		assert.equal(c.voice_application_id, null);
		assert.equal(c.sms_url, 'https://example.com/sms');
		h.expectError(await ten('PATCH', `/v1/phone-numbers/${n.id}`, { json: { voice_url: 'http://127.0.0.1/x' } }), 400, 'invalid_url', 'voice_url');
		h.expectError(await ten('PATCH', `/v1/phone-numbers/${n.id}`, { json: { voice_status_callback: 'ftp://x' } }), 400, 'invalid_url', 'voice_status_callback');
		h.expectError(await ten('PATCH', `/v1/phone-numbers/${n.id}`, { json: { voice_method: 'PUT' } }), 400, 'invalid_field', 'voice_method');
		h.expectError(await ten('PATCH', `/v1/phone-numbers/${n.id}`, { json: { voice_application_id: 'AP' + '0'.repeat(32) } }), 400, 'invalid_field', 'voice_application_id');
	});
});

describe('applications', () => {
	test('TwiML from the twilio package is stored and runs as given', async () => {
		const vr = new twilio.twiml.VoiceResponse();
		vr.say({ voice: 'alice', language: 'en-US' }, 'Hello & welcome');
		const g = vr.gather({ numDigits: 1, action: '/menu', timeout: 5 });
		g.say('Press 1 for sales');
		vr.dial().number('+15550001111');
		vr.hangup();
		const xml = vr.toString();
		const a = h.expectStatus(await ten('POST', '/v1/applications', { json: { name: 'welcome', kind: 'document', document: xml } }), 201);
		assert.match(a.id, h.ID_RE('AP'));
		assert.equal(a.source, xml);
		assert.equal(a.document, xml);
		const got = h.expectStatus(await ten('GET', `/v1/applications/${a.id}`), 200);
		assert.equal(got.document, xml);
		const list = h.expectStatus(await srv.req('GET', '/v1/applications', { token: V.secret }), 200);
		assert.ok(list.data.some((x) => x.id === a.id));
		h.expectError(await srv.req('POST', '/v1/applications', { token: V.secret, json: { name: 'v', kind: 'document', document: xml } }), 403, 'forbidden');
		const p = h.expectStatus(await ten('PATCH', `/v1/applications/${a.id}`, { json: { name: 'renamed' } }), 200);
		assert.equal(p.name, 'renamed');
		assert.equal(p.document, xml);
		h.expectStatus(await ten('DELETE', `/v1/applications/${a.id}`), 204);
		h.expectError(await ten('GET', `/v1/applications/${a.id}`), 404, 'not_found');
	});

	test('JSON verbs are stored as JSON text', async () => {
		const verbs = [{ verb: 'say', text: 'hi' }, { verb: 'hangup' }];
		const a = h.expectStatus(await ten('POST', '/v1/applications', { json: { name: 'json', kind: 'document', document: verbs } }), 201);
		assert.deepEqual(JSON.parse(a.document), verbs);
	});

	test('broken documents are refused with a clear message', async () => {
		const bad = await ten('POST', '/v1/applications', { json: { name: 'bad', kind: 'document', document: '<Response><Say>unclosed</Response>' } });
		h.expectError(bad, 400, 'invalid_document', 'document');
		assert.ok(bad.body.error.message.length > 5, bad.body.error.message);
		const dtd = await ten('POST', '/v1/applications', {
			json: { name: 'dtd', kind: 'document', document: '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]><Response><Say>&x;</Say></Response>' },
		});
		h.expectError(dtd, 400, 'invalid_document', 'document');
		assert.match(dtd.body.error.message, /DTD|entit|DOCTYPE/i);
		h.expectError(await ten('POST', '/v1/applications', { json: { name: 'x', kind: 'document' } }), 400, 'missing_field', 'document');
		h.expectError(await ten('POST', '/v1/applications', { json: { name: 'x', kind: 'flow', document: '<Response/>' } }), 400, 'invalid_field', 'kind');
		h.expectError(await ten('POST', '/v1/applications', { json: { name: 'x', kind: 'document', document: 42 } }), 400, 'invalid_type', 'document');
		h.expectError(await ten('POST', '/v1/applications', { json: { name: 'x', kind: 'ivr' } }), 400, 'missing_field', 'form');
	});

	test('an IVR form is compiled to TwiML whose menu posts back to the application', async () => {
		const form = { prompt: 'For sales press 1', options: { 1: { dial: '+15550002222' }, 2: { say: 'Goodbye', hangup: true } } };
		const a = h.expectStatus(await ten('POST', '/v1/applications', { json: { name: 'ivr', kind: 'ivr', form } }), 201);
		assert.equal(a.kind, 'ivr');
		assert.deepEqual(a.form.prompt, form.prompt);
		assert.match(a.document, /<Response>/);
		assert.match(a.document, /<Gather/);
		assert.ok(a.document.includes(`irisx:applications/${a.id}`), a.document);
		assert.ok(a.document.includes('For sales press 1'));
		h.expectError(await ten('POST', '/v1/applications', { json: { name: 'ivr', kind: 'ivr', form: { options: {} } } }), 400, 'invalid_document', 'form');
	});
});

describe('dialplan', () => {
	let app, other;
	before(async () => {
		app = h.expectStatus(await ten('POST', '/v1/applications', { json: { name: 'day', kind: 'document', document: '<Response><Say>day</Say></Response>' } }), 201);
		other = h.expectStatus(await ten('POST', '/v1/applications', { json: { name: 'night', kind: 'document', document: '<Response><Say>night</Say></Response>' } }), 201);
	});

	test('CRUD, validation and match', async () => {
		const office = h.expectStatus(
			await ten('POST', '/v1/dialplan-rules', { json: { name: 'office', priority: 10, match_prefix: '+1555', days: 'mon,tue,wed,thu,fri', time_start: '09:00', time_end: '17:00', utc_offset_min: -300, application_id: app.id } }),
			201
		);
		assert.match(office.id, h.ID_RE('DR'));
		assert.equal(office.enabled, true);
		const night = h.expectStatus(await ten('POST', '/v1/dialplan-rules', { json: { name: 'night', priority: 20, time_start: '22:00', time_end: '06:00', application_id: other.id } }), 201);
		const vip = h.expectStatus(await ten('POST', '/v1/dialplan-rules', { json: { name: 'vip', priority: 5, match_caller: '+44', application_id: other.id, enabled: false } }), 201);
		const list = h.expectStatus(await srv.req('GET', '/v1/dialplan-rules', { token: V.secret }), 200).data;
		assert.deepEqual(list.map((r) => r.name), ['vip', 'office', 'night']);
		const match = async (q) => ten('GET', `/v1/dialplan-rules/match?${new URLSearchParams(q)}`);
		// Tuesday 2024-01-02 15:00 UTC = 10:00 at UTC-5
		assert.equal(h.expectStatus(await match({ to: '+15551230000', from: '+442070000000', at: '2024-01-02T15:00:00Z' }), 200).id, office.id);
		assert.equal(h.expectStatus(await match({ to: '+15551230000', at: '2024-01-02T23:30:00Z' }), 200).id, night.id);
		assert.equal(h.expectStatus(await match({ to: '+15551230000', at: '2024-01-03T05:59:00Z' }), 200).id, night.id);
		h.expectError(await match({ to: '+15551230000', at: '2024-01-06T15:00:00Z' }), 404, 'not_found'); // Saturday
		h.expectError(await match({ to: '+4420000000', at: '2024-01-02T15:00:00Z' }), 404, 'not_found');
		h.expectStatus(await ten('PATCH', `/v1/dialplan-rules/${vip.id}`, { json: { enabled: true } }), 200);
		assert.equal(h.expectStatus(await match({ to: '+15551230000', from: '+442070000000', at: '2024-01-02T15:00:00Z' }), 200).id, vip.id);
		h.expectError(await match({}), 400, 'missing_parameter', 'to');
		h.expectError(await match({ to: '+1555', at: 'yesterday' }), 400, 'invalid_parameter', 'at');
		for (const [json, field] of [
			[{ application_id: app.id, time_start: '25:00' }, 'time_start'],
			[{ application_id: app.id, time_end: '9:00' }, 'time_end'],
			[{ application_id: app.id, time_start: '09:00', time_end: '09:00' }, 'time_end'],
			[{ application_id: app.id, days: 'mon,funday' }, 'days'],
			[{ application_id: app.id, days: 'mon,mon' }, 'days'],
			[{ application_id: app.id, utc_offset_min: 900 }, 'utc_offset_min'],
			[{ application_id: app.id, match_number: '555' }, 'match_number'],
			[{ application_id: app.id, match_prefix: '+1-555' }, 'match_prefix'],
			[{ application_id: 'AP' + '0'.repeat(32) }, 'application_id'],
		])
			h.expectError(await ten('POST', '/v1/dialplan-rules', { json }), 400, 'invalid_field', field);
		h.expectError(await ten('POST', '/v1/dialplan-rules', { json: {} }), 400, 'missing_field', 'application_id');
		h.expectError(await srv.req('POST', '/v1/dialplan-rules', { token: V.secret, json: { application_id: app.id } }), 403, 'forbidden');
		const p = h.expectStatus(await ten('PATCH', `/v1/dialplan-rules/${office.id}`, { json: { name: 'office hours', priority: 1 } }), 200);
		assert.equal(p.name, 'office hours');
		assert.equal(p.time_start, '09:00');
		for (const r of [office, night, vip])
			h.expectStatus(await ten('DELETE', `/v1/dialplan-rules/${r.id}`), 204);
		h.expectError(await ten('GET', `/v1/dialplan-rules/${office.id}`), 404, 'not_found');
	});
});

describe('text to speech', () => {
	test('renders an 8 kHz WAV; the same text is the same id; ranges', async () => {
		const r = await ten('POST', '/v1/tts', { json: { text: 'Hello from IRISX' } });
		const t = h.expectStatus(r, 201);
		assert.match(t.id, /^TT[0-9a-f]{32}$/);
		assert.equal(t.voice, 'kal');
		assert.equal(t.language, 'en');
		assert.ok(t.duration_ms > 300, `duration ${t.duration_ms}`);
		assert.equal(t.uri, `/v1/tts/${t.id}/audio`);
		const again = h.expectStatus(await ten('POST', '/v1/tts', { json: { text: 'Hello from IRISX', voice: 'kal', language: 'en' } }), 201);
		assert.equal(again.id, t.id);
		assert.equal(again.created_at, t.created_at);
		const other = h.expectStatus(await ten('POST', '/v1/tts', { json: { text: 'Hello from IRISX!' } }), 201);
		assert.notEqual(other.id, t.id);
		assert.deepEqual(h.expectStatus(await ten('GET', `/v1/tts/${t.id}`), 200), t);
		const url = srv.url + t.uri;
		const full = await fetch(url, { headers: { authorization: `Bearer ${T.token}` } });
		assert.equal(full.status, 200);
		assert.equal(full.headers.get('content-type'), 'audio/wav');
		assert.equal(full.headers.get('accept-ranges'), 'bytes');
		const wav = Buffer.from(await full.arrayBuffer());
		assert.equal(wav.length, t.bytes);
		assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
		assert.equal(wav.toString('ascii', 8, 12), 'WAVE');
		assert.equal(wav.readUInt16LE(20), 1, 'PCM');
		assert.equal(wav.readUInt16LE(22), 1, 'mono');
		assert.equal(wav.readUInt32LE(24), 8000, '8 kHz');
		assert.equal(wav.readUInt16LE(34), 16, '16-bit');
		assert.equal(wav.readUInt32LE(40), wav.length - 44);
		assert.equal(Math.floor((wav.length - 44) / 16), t.duration_ms);
		const part = await fetch(url, { headers: { authorization: `Bearer ${T.token}`, range: 'bytes=40-99' } });
		assert.equal(part.status, 206);
		assert.equal(part.headers.get('content-range'), `bytes 40-99/${wav.length}`);
		assert.deepEqual(Buffer.from(await part.arrayBuffer()), wav.subarray(40, 100));
		const tail = await fetch(url, { headers: { authorization: `Bearer ${T.token}`, range: 'bytes=-10' } });
		assert.equal(tail.status, 206);
		assert.deepEqual(Buffer.from(await tail.arrayBuffer()), wav.subarray(wav.length - 10));
		const past = await fetch(url, { headers: { authorization: `Bearer ${T.token}`, range: `bytes=${wav.length}-` } });
		assert.equal(past.status, 416);
		assert.equal(past.headers.get('content-range'), `bytes */${wav.length}`);
		h.expectError(await ten('GET', `/v1/tts/TT${'0'.repeat(32)}`), 404, 'not_found');
		h.expectError(await ten('GET', `/v1/tts/TT${'0'.repeat(32)}/audio`), 404, 'not_found');
	});

	test('other languages through espeak-ng; bad ones refused; the voices list', async () => {
		const de = h.expectStatus(await ten('POST', '/v1/tts', { json: { text: 'Guten Tag', language: 'de' } }), 201);
		assert.equal(de.voice, 'de');
		assert.ok(de.duration_ms > 0);
		h.expectError(await ten('POST', '/v1/tts', { json: { text: 'x', language: 'xx-nope' } }), 400, 'invalid_field', 'language');
		h.expectError(await ten('POST', '/v1/tts', { json: { text: 'x', voice: 'alice' } }), 400, 'invalid_field', 'voice');
		h.expectError(await ten('POST', '/v1/tts', { json: { text: '' } }), 400, 'invalid_field', 'text');
		h.expectError(await ten('POST', '/v1/tts', { json: { text: 'x'.repeat(4001) } }), 400, 'too_long', 'text');
		const v = h.expectStatus(await srv.req('GET', '/v1/tts/voices', { token: V.secret }), 200).data;
		assert.deepEqual(v[0], { voice: 'kal', language: 'en', engine: 'flite' });
		assert.ok(v.some((x) => x.language === 'de' && x.engine === 'espeak-ng'));
	});
});

describe('recordings', () => {
	test('the list is empty and unknown ids are 404', async () => {
		assert.deepEqual(h.expectStatus(await ten('GET', '/v1/recordings'), 200).data, []);
		const id = 'RE' + h.rand(16);
		h.expectError(await ten('GET', `/v1/recordings/${id}`), 404, 'not_found');
		h.expectError(await ten('GET', `/v1/recordings/${id}.wav`), 404, 'not_found');
		h.expectError(await ten('GET', `/v1/recordings/${id}/audio`), 404, 'not_found');
		h.expectError(await ten('DELETE', `/v1/recordings/${id}`), 404, 'not_found');
		h.expectError(await ten('GET', '/v1/recordings?call_id=nope'), 400, 'invalid_parameter', 'call_id');
	});
});
