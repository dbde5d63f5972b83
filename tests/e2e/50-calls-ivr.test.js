// 50-calls-ivr: the whole IVR story on a real `irisx serve` with its voice engine. A SIPp
// caller rings the tenant's number; the number's voice_url is a local HTTP server answering
// with TwiML made by the real `twilio` package (VoiceResponse): a spoken menu (Gather), digit
// 1, then Dial to a second number. The cheapest carrier answers 503 and the call fails over
// to the next one (the engine's test helper, which speaks, collects the '#' that crossed the
// bridge and records what it hears: the caller's speech). Then the call records (both legs,
// attempts, cost from the rate deck), the status callbacks (signed, checked with twilio's
// validateRequest), the call.* and recording.completed events and the recording download.
// The engine runs two signalling stacks (voice.sig_threads 2): the caller comes in on the
// first, the carrier leg goes out from the less loaded second, so the bridge joins legs of
// two stacks; a call to the second port reaches the same service.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const twilio = require('twilio');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');
const { Uas, sipp, sippServer } = require('./lib/voice');

const NUM = '+15550001111';
const SALES = '+15557770001';
let srv, T, docs, A, B, sipPort, sipPorts, recDir, token;

function wavLevel(buf) {
	const i = buf.indexOf('data');
	const s = new Int16Array(buf.buffer.slice(buf.byteOffset + i + 8, buf.byteOffset + buf.length - ((buf.length - i - 8) % 2)));
	let sum = 0;
	for (const v of s)
		sum += v * v;
	return s.length ? 10 * Math.log10(sum / s.length / 32768 ** 2 + 1e-12) : -100;
}

async function admin(method, p, o = {}) {
	return srv.req(method, p, { token: srv.adminToken, ...o });
}

async function waitFor(fn, ms, what) {
	const end = Date.now() + ms;
	let last;
	while (Date.now() < end) {
		last = await fn();
		if (last)
			return last;
		await h.sleep(100);
	}
	throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
	docs = await startReceiver((req) => {
		const form = new URLSearchParams(req.body);
		const vr = new twilio.twiml.VoiceResponse();
		if (req.path === '/voice') {
			const g = vr.gather({ numDigits: 1, action: '/menu', timeout: 6 });
			g.say('Welcome to IRISX. For sales, press 1.');
			vr.say('We did not get your choice. Goodbye.');
		} else if (req.path === '/menu') {
			if (form.get('Digits') === '1') {
				const d = vr.dial({ action: 'after-dial', timeout: 15, record: 'record-from-answer', recordingStatusCallback: '/rec-status' });
				d.number(SALES);
			} else {
				vr.say('Unknown choice.');
			}
		} else if (req.path === '/after-dial') {
			vr.hangup();
		} else if (req.path === '/broken') {
			return { status: 500, body: 'oops' };
		} else if (req.path === '/not-twiml') {
			return { status: 200, headers: { 'content-type': 'text/xml' }, body: '<Response><Say>unclosed</Response>' };
		} else if (req.path === '/fallback') {
			vr.say('This is the fallback.');
			vr.hangup();
		} else {
			return { status: 204 };
		}
		return { status: 200, headers: { 'content-type': 'text/xml' }, body: vr.toString() };
	});
	recDir = h.tmpDir('carrier-rec');
	// carrier A: the cheapest, refuses with 503; carrier B: the engine's helper answering
	A = await sippServer({ scenario: 'uas_503.xml', timeout: 60 });
	B = await new Uas(['--rtp-min', '41000', '--rtp-max', '41099', '--max-calls', '20', '--ivr', 'This is the sales desk.', '--record-dir', recDir, '--record-ms', '2500']).start();
	// two signalling stacks, their ports chosen by the kernel and named in the start log line;
	// legs are dialled from either stack, so the IVR's bridge may join legs of both
	srv = await h.startServer({
		tag: 'ivr',
		admin: true,
		env: {
			IRISX_VOICE_ENABLED: 'true',
			IRISX_VOICE_MAX_CALLS: '90',
			IRISX_VOICE_SIP_PORT: '0',
			IRISX_VOICE_SIG_THREADS: '2',
			IRISX_VOICE_RTP_PORT_MIN: '41200',
			IRISX_VOICE_RTP_PORT_MAX: '41399',
			IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
			IRISX_WEBHOOKS_RETRY_UNIT_US: '1000',
		},
	});
	const started = /"voice engine started".*/.exec(srv.logs) || /voice engine started.*/.exec(srv.logs);
	sipPorts = /"sip_ports":"([\d,]+)"/.exec(started[0])[1].split(',').map(Number);
	assert.equal(sipPorts.length, 2, started[0]);
	sipPort = sipPorts[0];
	T = await h.registerTenant(srv, { tag: 'ivr' });
	const ca = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: 'cheap', host: '127.0.0.1', port: A.port, priority: 10, ping_ms: 0 } }), 201);
	const cb = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: 'second', host: '127.0.0.1', port: B.port, priority: 10 } }), 201);
	const cc = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: 'dear', host: '127.0.0.1', port: 9, priority: 1, ping_ms: 0 } }), 201);
	h.expectStatus(await admin('PUT', `/v1/admin/carriers/${ca.id}/rates`, { body: 'prefix,cost_per_min,min_s,incr_s\n1555,0.0050,1,1\n', headers: { 'content-type': 'text/csv' } }), 200);
	h.expectStatus(await admin('PUT', `/v1/admin/carriers/${cb.id}/rates`, { body: 'prefix,cost_per_min,min_s,incr_s\n1,0.0200,1,1\n1555,0.0120,60,60\n', headers: { 'content-type': 'text/csv' } }), 200);
	h.expectStatus(await admin('PUT', `/v1/admin/carriers/${cc.id}/rates`, { body: 'prefix,cost_per_min\n1555,0.0900\n', headers: { 'content-type': 'text/csv' } }), 200);
	A.carrier = ca.id;
	B.carrier = cb.id;
	const n = h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { json: { number: NUM, tenant_id: T.tenantId } }), 201);
	h.expectStatus(
		await srv.req('PATCH', `/v1/phone-numbers/${n.id}`, { token: T.token, json: { voice_url: docs.url('/voice'), voice_status_callback: docs.url('/status') } }),
		200
	);
	h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: T.token, json: { url: docs.url('/events'), events: ['call.*', 'recording.*'] } }), 201);
	token = h.expectStatus(await srv.req('GET', '/v1/tenant/auth-token', { token: T.token }), 200).auth_token;
});

after(async () => {
	if (B)
		await B.stop().catch(() => {});
	if (A)
		A.kill();
	if (docs)
		await docs.close();
	if (srv)
		await srv.cleanup();
	if (recDir)
		h.rmDir(recDir);
});

test('inbound IVR: menu, digit 1, Dial through the cheapest healthy carrier, records and events', async () => {
	const r = await sipp({ port: sipPort }, { scenario: 'uac_ivr.xml', service: NUM.slice(1), timeout: 40 });
	assert.equal(r.ok, 1, r.describe() + '\n' + srv.logs.slice(-3000));

	// the documents were requested as Twilio does: signed, with the call's parameters
	const first = docs.on('/voice')[0];
	assert.ok(first, 'the voice_url was fetched');
	const p1 = Object.fromEntries(new URLSearchParams(first.body));
	assert.equal(p1.To, NUM);
	assert.equal(p1.From, '+15553334444');
	assert.equal(p1.Direction, 'inbound');
	assert.equal(p1.AccountSid, T.tenantId);
	assert.equal(p1.ApiVersion, '2010-04-01');
	assert.match(p1.CallSid, h.ID_RE('CA'));
	assert.ok(twilio.validateRequest(token, first.headers['x-twilio-signature'], docs.url('/voice'), p1), 'X-Twilio-Signature verifies');
	const menu = docs.on('/menu')[0];
	assert.ok(menu, 'the Gather action was requested');
	assert.equal(new URLSearchParams(menu.body).get('Digits'), '1');
	const after = docs.on('/after-dial')[0];
	assert.ok(after, 'the Dial action (relative URL) was requested');
	const ap = new URLSearchParams(after.body);
	assert.equal(ap.get('DialCallStatus'), 'completed');
	assert.match(ap.get('DialCallSid'), h.ID_RE('CA'));

	// the far party heard the caller: '#' crossed the bridge, then the caller's speech was recorded
	await B.waitFor(/RECORD_DONE call=\d+ code=\d+ duration_ms=\d+/, 15000);
	assert.match(B.out, /COLLECTED call=\d+ code=1 digits=/);
	const wav = fs.readdirSync(recDir).filter((f) => f.endsWith('.wav'));
	assert.equal(wav.length, 1, B.out);
	const level = wavLevel(fs.readFileSync(path.join(recDir, wav[0])));
	assert.ok(level > -45, `the carrier side recorded the caller's speech (${level.toFixed(1)} dBFS)`);

	// the call records: the inbound leg and its Dial child, closed, with attempts and cost
	const parent = p1.CallSid;
	const rec = await waitFor(async () => {
		const c = (await srv.req('GET', `/v1/calls/${parent}`, { token: T.token })).body;
		return c && c.status === 'completed' && c.ended_at ? c : null;
	}, 15000, 'the inbound call record');
	assert.equal(rec.direction, 'inbound');
	assert.ok(rec.duration >= 4, JSON.stringify(rec));
	const kids = h.expectStatus(await srv.req('GET', `/v1/calls?parent_call_id=${parent}`, { token: T.token }), 200).data;
	assert.equal(kids.length, 1, JSON.stringify(kids));
	const child = await waitFor(async () => {
		const c = (await srv.req('GET', `/v1/calls/${kids[0].id}`, { token: T.token })).body;
		return c && c.ended_at ? c : null;
	}, 15000, 'the child record');
	assert.equal(child.direction, 'outbound-dial');
	assert.equal(child.to, SALES);
	assert.equal(child.status, 'completed');
	assert.equal(child.carrier_id, B.carrier, 'answered by the second-cheapest carrier');
	assert.deepEqual(child.attempts.map((a) => [a.carrier_id, a.code]), [[A.carrier, 503], [B.carrier, 200]]);
	assert.ok(child.duration >= 1, JSON.stringify(child));
	assert.equal(child.billed_seconds, 60, '60/60 increments on the 1555 prefix of carrier B');
	assert.equal(child.price_micros, 12000, '0.012 per minute, one minute');
	assert.ok(child.quality && child.quality.rx_packets > 50, `media flowed: ${JSON.stringify(child.quality)}`);

	// status callbacks of the inbound number: answered and completed, signed
	await docs.waitFor(() => docs.on('/status').some((x) => /CallStatus=completed/.test(x.body)), 15000, 'completed callback');
	const sts = docs.on('/status').map((x) => new URLSearchParams(x.body).get('CallStatus'));
	assert.ok(sts.includes('in-progress') && sts.includes('completed'), sts.join(','));
	for (const x of docs.on('/status'))
		assert.ok(twilio.validateRequest(token, x.headers['x-twilio-signature'], docs.url('/status'), Object.fromEntries(new URLSearchParams(x.body))));

	// the Dial's recording: ready event, callback, downloadable WAV with audio
	await docs.waitFor(() => docs.on('/events').some((x) => JSON.parse(x.body).type === 'recording.completed'), 15000, 'recording.completed');
	const evs = docs.on('/events').map((x) => JSON.parse(x.body));
	const types = new Set(evs.map((e) => e.type));
	for (const t of ['call.answered', 'call.completed', 'recording.completed'])
		assert.ok(types.has(t), `${t} in ${[...types]}`);
	const rc = evs.find((e) => e.type === 'recording.completed');
	assert.equal(rc.data.call_id, parent);
	await docs.waitFor(() => docs.on('/rec-status').length > 0, 10000, 'recordingStatusCallback');
	assert.equal(new URLSearchParams(docs.on('/rec-status')[0].body).get('RecordingStatus'), 'completed');
	const recs = h.expectStatus(await srv.req('GET', `/v1/recordings?call_id=${parent}`, { token: T.token }), 200).data;
	assert.equal(recs.length, 1);
	assert.equal(recs[0].status, 'completed');
	const audio = await fetch(`${srv.url}/v1/recordings/${recs[0].id}/audio`, { headers: { authorization: `Bearer ${T.token}` } });
	assert.equal(audio.status, 200);
	const bytes = Buffer.from(await audio.arrayBuffer());
	assert.equal(bytes.toString('latin1', 0, 4), 'RIFF');
	assert.ok(bytes.length > 8000, `recording bytes ${bytes.length}`);
	assert.deepEqual(rec.recording_ids, [recs[0].id]);
});

test('a number without a tenant is refused (404), nothing is recorded', async () => {
	const r = await sipp({ port: sipPort }, { sn: 'uac', service: '15559990000', timeout: 10 });
	assert.equal(r.ok, 0);
	assert.match(r.screen + r.errors, /404/);
	// the second signalling stack's port reaches the same call service
	const r2 = await sipp({ port: sipPorts[1] }, { sn: 'uac', service: '15559990000', timeout: 10 });
	assert.equal(r2.ok, 0);
	assert.match(r2.screen + r2.errors, /404/);
});

test('a dialplan rule sends a number to a stored IVR-menu application (no web server)', async () => {
	const num = '+15550001112';
	const n = h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { json: { number: num, tenant_id: T.tenantId } }), 201);
	const form = {
		prompt: 'For the one option, press 1.',
		timeout: 4,
		options: { 1: { say: 'You chose one. Goodbye.', hangup: true } },
		// silence or another key: the menu again, so only the digit-1 branch ends the call
		no_input: { say: 'We did not hear you.' },
		invalid: { say: 'That is not an option.' },
	};
	const app = h.expectStatus(await srv.req('POST', '/v1/applications', { token: T.token, json: { name: 'menu', kind: 'ivr', form } }), 201);
	h.expectStatus(await srv.req('POST', '/v1/dialplan-rules', { token: T.token, json: { name: 'menu line', priority: 5, match_number: num, application_id: app.id } }), 201);
	const fetched = () => docs.seen.filter((x) => !['/events', '/status', '/rec-status'].includes(x.path)).length;
	const before = fetched();
	// SIPp's uac_dtmf: answered, digits 1 1 #, then it waits for our BYE
	const r = await sipp({ port: sipPort }, { scenario: 'uac_dtmf.xml', service: num.slice(1), timeout: 30 });
	assert.equal(r.ok, 1, r.describe() + '\n' + srv.logs.slice(-3000));
	assert.equal(fetched(), before, 'no document was fetched from a web server');
	const calls = h.expectStatus(await srv.req('GET', `/v1/calls?to=${encodeURIComponent(num)}`, { token: T.token }), 200).data;
	assert.equal(calls.length, 1);
	const c = await waitFor(async () => {
		const x = (await srv.req('GET', `/v1/calls/${calls[0].id}`, { token: T.token })).body;
		return x && x.ended_at ? x : null;
	}, 10000, 'the record');
	assert.equal(c.status, 'completed');
	assert.equal(c.direction, 'inbound');
	assert.ok(n.id);
});

test('failures are never silent: the fallback URL runs; without one the caller hears the error prompt; call.error', async () => {
	const mk = async (number, json) => {
		const n = h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { json: { number, tenant_id: T.tenantId } }), 201);
		h.expectStatus(await srv.req('PATCH', `/v1/phone-numbers/${n.id}`, { token: T.token, json }), 200);
	};
	await mk('+15550001113', { voice_url: docs.url('/broken'), voice_fallback_url: docs.url('/fallback') });
	await mk('+15550001114', { voice_url: docs.url('/not-twiml') });
	const r1 = await sipp({ port: sipPort }, { scenario: 'uac_wait_bye.xml', service: '15550001113', timeout: 20 });
	assert.equal(r1.ok, 1, r1.describe());
	assert.equal(docs.on('/fallback').length, 1, 'the fallback document ran');
	const r2 = await sipp({ port: sipPort }, { scenario: 'uac_wait_bye.xml', service: '15550001114', timeout: 20 });
	assert.equal(r2.ok, 1, 'the error prompt played, then the call was hung up: ' + r2.describe());
	await docs.waitFor(() => docs.on('/events').filter((x) => JSON.parse(x.body).type === 'call.error').length >= 2, 10000, 'call.error events');
	const errs = docs.on('/events').map((x) => JSON.parse(x.body)).filter((e) => e.type === 'call.error');
	assert.ok(errs.some((e) => /HTTP 500/.test(e.data.reason) && /\/broken$/.test(e.data.url)), JSON.stringify(errs));
	assert.ok(errs.some((e) => /invalid/.test(e.data.reason) && /not-twiml/.test(e.data.url)), JSON.stringify(errs));
	const calls = h.expectStatus(await srv.req('GET', `/v1/calls?to=${encodeURIComponent('+15550001114')}`, { token: T.token }), 200).data;
	assert.equal(calls.length, 1);
});
