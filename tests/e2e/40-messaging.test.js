// 40: messaging end to end with real peers: the npm `smpp` SMSC (submit, receipts after and
// before the submit response, inbound MO, STOP/START), a fake Twilio-compatible HTTP
// provider answering 503 (failover to SMPP by cost), GSM-7/UCS-2 encoding and
// concatenation checked on the wire, cancel, validation errors, and e-mail to the npm
// smtp-server sink (parsed by mailparser) with templates, attachments, 4xx retried and 5xx
// failed.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const twilio = require('twilio');
const h = require('./lib/harness');
const { startSmsc } = require('./lib/smsc');
const { startReceiver } = require('./lib/receiver');
const { startSmtpSink } = require('./lib/smtp-sink');

const NUM = '+15550001000';
let srv, T, smsc, smscBefore, hook, fakeTw, sink, prov;
const replies = { 'perm@x.test': 550, 'temp@x.test': 451 }; // the sink's answers per recipient

async function admin(method, p, json) {
	return srv.req(method, p, { token: srv.adminToken, json });
}

async function waitStatus(id, want, ms = 15000, who = T) {
	const end = Date.now() + ms;
	let m;
	while (Date.now() < end) {
		m = (await srv.req('GET', `/v1/messages/${id}`, { token: who.token })).body;
		if (m && (Array.isArray(want) ? want.includes(m.status) : m.status === want))
			return m;
		await h.sleep(50);
	}
	throw new Error(`message ${id} never reached ${want}: ${JSON.stringify(m)}`);
}

function submits(s, dest) {
	return s.events.filter((e) => e.event === 'submit_sm' && e.destination_addr === dest && !e.throttled);
}

before(async () => {
	smsc = await startSmsc({ systemId: 'irisx', password: 'secret', receipt: 'after' });
	// the tenant's sms_url answers with TwiML made by the twilio package
	hook = await startReceiver((req) => {
		if (req.path !== '/inbound')
			return { status: 204 };
		const body = new URLSearchParams(req.body).get('Body') || '';
		if (/^(stop|start)$/i.test(body.trim()))
			return { status: 200, headers: { 'content-type': 'text/xml' }, body: new twilio.twiml.MessagingResponse().toString() };
		const tw = new twilio.twiml.MessagingResponse();
		tw.message(`Thanks for "${body}" & welcome`);
		return { status: 200, headers: { 'content-type': 'text/xml' }, body: tw.toString() };
	});
	fakeTw = await startReceiver(() => ({ status: 503, body: '{"code":20500,"message":"down"}' }));
	sink = await startSmtpSink({ replies });
	srv = await h.startServer({
		tag: 'msg',
		admin: true,
		env: {
			IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
			IRISX_WEBHOOKS_RETRY_UNIT_US: '1000',
		},
	});
	T = await h.registerTenant(srv, { tag: 'msg' });
	// the operator's providers: an HTTP one that is cheapest but down, and the SMSC
	const tw = await admin('POST', '/v1/admin/messaging-providers', {
		name: 'cheap-http',
		kind: 'twilio',
		config: { base_url: `http://127.0.0.1:${fakeTw.port}`, account: 'AC' + 'f'.repeat(32), token: 'tok', timeout_ms: 2000 },
		priority: 5,
	});
	h.expectStatus(tw, 201, 'twilio provider');
	const sm = await admin('POST', '/v1/admin/messaging-providers', {
		name: 'smsc',
		kind: 'smpp',
		config: { host: '127.0.0.1', port: smsc.port, system_id: 'irisx', password: 'secret', window: 10 },
		priority: 10,
	});
	prov = h.expectStatus(sm, 201, 'smpp provider');
	assert.equal(prov.config.password, '********', 'secrets are not shown');
	h.expectStatus(await admin('PUT', `/v1/admin/messaging-providers/${tw.body.id}/rates`, { csv: 'prefix,cost\n1,0.0010\n' }), 200);
	const rates = await admin('PUT', `/v1/admin/messaging-providers/${prov.id}/rates`, { csv: 'prefix,cost\n1,0.0075\n1555,0.0050\n44,0.0300\n' });
	assert.equal(h.expectStatus(rates, 200).rates, 3);
	h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { number: NUM, tenant_id: T.tenantId }), 201);
	h.expectStatus(await admin('POST', '/v1/admin/sender-ids', { tenant_id: T.tenantId, sender: 'ACME' }), 201);
	await smsc.waitFor((e) => e.event === 'bind', 10000);
	h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: T.token, json: { url: hook.url('/events'), events: ['message.*', 'email.*'] } }), 201);
});
after(async () => {
	for (const x of [hook, fakeTw])
		if (x)
			await x.close();
	if (sink)
		await sink.close();
	if (smsc)
		smsc.stop();
	if (smscBefore)
		smscBefore.stop();
	if (srv)
		await srv.cleanup();
});

describe('SMS', () => {
	test('sent through the SMSC after the cheaper HTTP provider fails; receipt -> delivered', async () => {
		const r = await srv.req('POST', '/v1/messages', {
			token: T.token,
			json: { from: NUM, to: '+15551230001', body: 'hello from irisx', status_callback: hook.url('/sms-status') },
		});
		const m = h.expectStatus(r, 201);
		assert.match(m.id, h.ID_RE('SM'));
		assert.equal(m.status, 'queued');
		assert.equal(m.encoding, 'GSM-7');
		assert.equal(m.segments, 1);
		assert.equal(m.price, 0.001, 'priced by the cheapest route (longest prefix) at acceptance');
		const done = await waitStatus(m.id, 'delivered');
		assert.equal(done.provider_id, prov.id);
		assert.deepEqual(done.attempts.map((a) => a.result), ['failed', 'sent']);
		assert.equal(fakeTw.seen.length, 1, 'the HTTP provider was tried first');
		assert.match(fakeTw.seen[0].url, /\/2010-04-01\/Accounts\/ACf+\/Messages\.json/);
		const sub = submits(smsc, '15551230001');
		assert.equal(sub.length, 1);
		assert.equal(Buffer.from(sub[0].short_message, 'hex').toString(), 'hello from irisx');
		assert.equal(sub[0].source_addr, NUM.slice(1));
		await hook.waitFor(() => hook.on('/sms-status').some((x) => /MessageStatus=delivered/.test(x.body)), 10000, 'delivered callback');
		const statuses = hook.on('/sms-status').map((x) => new URLSearchParams(x.body).get('MessageStatus'));
		assert.deepEqual(statuses.filter((s) => s !== 'queued'), ['sent', 'delivered']);
		// and message.* events on the tenant's webhook, in the documented shape
		await hook.waitFor(() => hook.on('/events').some((x) => JSON.parse(x.body).type === 'message.delivered'), 10000, 'message.delivered event');
		const evs = hook.on('/events').map((x) => JSON.parse(x.body)).filter((e) => e.data.message_sid === m.id);
		assert.deepEqual(evs.map((e) => e.type).sort(), ['message.delivered', 'message.queued', 'message.sent']);
		const d = evs.find((e) => e.type === 'message.delivered').data;
		assert.equal(d.account_sid, T.tenantId);
		assert.equal(d.direction, 'outbound-api');
		assert.equal(d.status, 'delivered');
		assert.equal(d.price, 0.005, 'billed at the rate of the route that took it (1555 prefix)');
		assert.equal(done.price, 0.005);
		assert.equal(d.provider_id, prov.id);
	});

	test('encoding: GSM-7 extension table, UCS-2 for emoji, concatenation on the wire', async () => {
		const cases = [
			{ body: 'a'.repeat(160), enc: 'GSM-7', segs: 1 },
			{ body: 'a'.repeat(161), enc: 'GSM-7', segs: 2 },
			{ body: '€'.repeat(80), enc: 'GSM-7', segs: 1 },
			{ body: 'hi 😀', enc: 'UCS-2', segs: 1 },
			{ body: 'ü'.repeat(70) + '😀', enc: 'UCS-2', segs: 2 },
			{ body: 'x'.repeat(1600), enc: 'GSM-7', segs: 11 },
		];
		let n = 0;
		for (const c of cases) {
			const to = `+1555123${String(100 + n++).padStart(4, '0')}`;
			const m = h.expectStatus(await srv.req('POST', '/v1/messages', { token: T.token, json: { from: 'ACME', to, body: c.body } }), 201);
			assert.equal(m.encoding, c.enc, c.body.slice(0, 20));
			assert.equal(m.segments, c.segs, c.body.slice(0, 20));
			await waitStatus(m.id, 'delivered');
			const sub = submits(smsc, to.slice(1));
			assert.equal(sub.length, c.segs, `${c.segs} submit_sm for ${to}`);
			for (const s of sub) {
				assert.equal(s.data_coding, c.enc === 'GSM-7' ? 0 : 8);
				assert.equal(!!(s.esm_class & 0x40), c.segs > 1, 'UDH only when concatenated');
				assert.equal(s.source_addr, 'ACME');
			}
			if (c.segs > 1) {
				// reassemble from the UDHs: 05 00 03 ref total seq
				const parts = sub.map((s) => Buffer.from(s.short_message, 'hex'));
				assert.ok(parts.every((p) => p[0] === 5 && p[1] === 0 && p[2] === 3 && p[4] === c.segs));
				parts.sort((a, b) => a[5] - b[5]);
				const payload = Buffer.concat(parts.map((p) => p.subarray(6)));
				const text = c.enc === 'UCS-2' ? payload.swap16().toString('utf16le') : payload.toString('latin1');
				assert.equal(text, c.body);
			}
		}
	});

	test('validation: E.164, ownership, empty and oversized bodies', async () => {
		const bad = [
			[{ from: NUM, to: '5551234', body: 'x' }, 'invalid_to', 'to'],
			[{ from: NUM, to: '+1555abc1234', body: 'x' }, 'invalid_to', 'to'],
			[{ from: '+15559999999', to: '+15551230002', body: 'x' }, 'from_not_owned', 'from'],
			[{ from: 'NOTMINE', to: '+15551230002', body: 'x' }, 'from_not_owned', 'from'],
			[{ from: 'bad sender!!', to: '+15551230002', body: 'x' }, 'invalid_from', 'from'],
			[{ from: NUM, to: '+15551230002', body: '' }, 'missing_body', 'body'],
			[{ from: NUM, to: '+15551230002', body: 'x'.repeat(1601) }, 'body_too_long', 'body'],
			[{ from: NUM, to: '+15551230002' }, 'missing_field', 'body'],
			[{ from: NUM, to: '+15551230002', body: 'x', price: 0 }, 'unknown_field', 'price'],
		];
		for (const [json, code, field] of bad)
			h.expectError(await srv.req('POST', '/v1/messages', { token: T.token, json }), 400, code, field);
	});

	test('send_at in the future, then canceled: never sent', async () => {
		const at = new Date(Date.now() + 3600e3).toISOString();
		const m = h.expectStatus(await srv.req('POST', '/v1/messages', { token: T.token, json: { from: NUM, to: '+15551230003', body: 'later', send_at: at } }), 201);
		const c = await srv.req('POST', `/v1/messages/${m.id}/cancel`, { token: T.token });
		assert.equal(h.expectStatus(c, 200).status, 'canceled');
		h.expectError(await srv.req('POST', `/v1/messages/${m.id}/cancel`, { token: T.token }), 409, 'not_cancelable');
		await h.sleep(300);
		assert.equal(submits(smsc, '15551230003').length, 0);
	});

	test('inbound MO: stored, message.received, sms_url request; STOP and START', async () => {
		const nums = h.expectStatus(await srv.req('GET', '/v1/phone-numbers', { token: T.token }), 200).data;
		const pn = nums.find((n) => n.number === NUM);
		h.expectStatus(await srv.req('PATCH', `/v1/phone-numbers/${pn.id}`, { token: T.token, json: { sms_url: hook.url('/inbound') } }), 200);
		smsc.command(`mo 15551239999 ${NUM.slice(1)} hello there`);
		await hook.waitFor(() => hook.on('/inbound').length >= 1, 10000, 'sms_url request');
		const p = new URLSearchParams(hook.on('/inbound')[0].body);
		assert.equal(p.get('From'), '+15551239999');
		assert.equal(p.get('To'), NUM);
		assert.equal(p.get('Body'), 'hello there');
		assert.match(p.get('MessageSid'), h.ID_RE('SM'));
		const tok = h.expectStatus(await srv.req('GET', '/v1/tenant/auth-token', { token: T.token }), 200).auth_token;
		assert.ok(twilio.validateRequest(tok, hook.on('/inbound')[0].headers['x-twilio-signature'], hook.url('/inbound'), Object.fromEntries(p)), 'signed');
		// the TwiML <Message> answer goes back to the sender from the number
		await smsc.waitFor((e) => e.event === 'submit_sm' && e.destination_addr === '15551239999', 10000);
		const reply = submits(smsc, '15551239999')[0];
		assert.equal(Buffer.from(reply.short_message, 'hex').toString(), 'Thanks for "hello there" & welcome');
		assert.equal(reply.source_addr, NUM.slice(1));
		const inbound = h.expectStatus(await srv.req('GET', `/v1/messages?direction=inbound`, { token: T.token }), 200).data;
		assert.ok(inbound.some((m) => m.body === 'hello there' && m.status === 'received' && m.from === '+15551239999'));
		// STOP: sending to that recipient is refused until START
		smsc.command(`mo 15551239999 ${NUM.slice(1)} STOP`);
		await hook.waitFor(() => hook.on('/inbound').length >= 2, 10000, 'the STOP message');
		h.expectError(await srv.req('POST', '/v1/messages', { token: T.token, json: { from: NUM, to: '+15551239999', body: 'promo' } }), 400, 'recipient_opted_out', 'to');
		smsc.command(`mo 15551239999 ${NUM.slice(1)} start`);
		await hook.waitFor(() => hook.on('/inbound').length >= 3, 10000, 'the START message');
		h.expectStatus(await srv.req('POST', '/v1/messages', { token: T.token, json: { from: NUM, to: '+15551239999', body: 'welcome back' } }), 201);
		// HELP: the automatic answer (messaging.help_text) goes back from the number
		smsc.command(`mo 15551238888 ${NUM.slice(1)} help`);
		await smsc.waitFor((e) => e.event === 'submit_sm' && e.destination_addr === '15551238888' && /STOP to unsubscribe/.test(Buffer.from(e.short_message, 'hex').toString()), 10000);
		const help = submits(smsc, '15551238888').map((x) => Buffer.from(x.short_message, 'hex').toString());
		assert.ok(help.includes('Reply STOP to unsubscribe. Msg&Data Rates May Apply.'), help.join(' | '));
		assert.equal(submits(smsc, '15551238888')[0].source_addr, NUM.slice(1));
	});

	test('a receipt that arrives before the submit response still marks the message delivered', async () => {
		smscBefore = await startSmsc({ systemId: 'irisx2', password: 'secret2', receipt: 'before' });
		const t2 = await h.registerTenant(srv, { tag: 'msg-early' });
		const own = await srv.req('POST', '/v1/messaging-providers', {
			token: t2.token,
			json: { name: 'my smsc', kind: 'smpp', config: { host: '127.0.0.1', port: smscBefore.port, system_id: 'irisx2', password: 'secret2' } },
		});
		h.expectStatus(own, 201, 'bring-your-own provider');
		h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { number: '+15550002000', tenant_id: t2.tenantId }), 201);
		const m = h.expectStatus(await srv.req('POST', '/v1/messages', { token: t2.token, json: { from: '+15550002000', to: '+15551230004', body: 'early' } }), 201);
		const done = await waitStatus(m.id, 'delivered', 15000, t2);
		assert.equal(done.provider_id, own.body.id, "the tenant's own provider was used");
		assert.equal(submits(smscBefore, '15551230004').length, 1);
		assert.equal(submits(smsc, '15551230004').length, 0, "not the operator's");
	});
});

describe('e-mail', () => {
	before(async () => {
		h.expectStatus(await admin('POST', '/v1/admin/messaging-providers', {
			name: 'relay', kind: 'smtp', config: { host: '127.0.0.1', port: sink.port, tls: 'none' },
		}), 201);
	});

	test('text + html + attachment, template with escaping; parsed by mailparser', async () => {
		const tpl = await srv.req('POST', '/v1/email-templates', {
			token: T.token,
			json: { name: 'welcome', subject: 'Welcome {{name}}', text: 'Hi {{ name }}, code {{code}}', html: '<p>Hi {{name}}</p>' },
		});
		const t = h.expectStatus(tpl, 201);
		const att = Buffer.from([0, 1, 2, 3, 255, 254, 0, 10]);
		const r = await srv.req('POST', '/v1/emails', {
			token: T.token,
			json: {
				from: 'noreply@acme.example.com',
				to: ['alice@example.com'],
				cc: ['bob@example.com'],
				bcc: ['audit@example.com'],
				template_id: t.id,
				variables: { name: 'Zoë <script>', code: 1234 },
				attachments: [{ filename: 'data.bin', content_type: 'application/octet-stream', content: att.toString('base64') }],
			},
		});
		const e = h.expectStatus(r, 201);
		assert.match(e.id, h.ID_RE('ML'));
		assert.equal(e.status, 'queued');
		let got;
		for (let i = 0; i < 200 && !got; i++) {
			await h.sleep(50);
			got = (await srv.req('GET', `/v1/emails/${e.id}`, { token: T.token })).body;
			if (got.status !== 'sent')
				got = null;
		}
		assert.ok(got, 'sent');
		assert.equal(got.smtp_code, 250);
		await new Promise((res) => setTimeout(res, 200));
		const mail = sink.mails.find((x) => x.subject === 'Welcome Zoë <script>');
		assert.ok(mail, `mail received: ${JSON.stringify(sink.mails.map((x) => x.subject))}`);
		assert.match(mail.text, /Hi Zoë <script>, code 1234/);
		assert.match(mail.html, /Hi Zoë &lt;script&gt;/);
		assert.equal(mail.attachments.length, 1);
		assert.equal(mail.attachments[0].filename, 'data.bin');
		assert.equal(mail.attachments[0].size, att.length);
		const rcpts = JSON.stringify(mail);
		assert.ok(rcpts.includes('audit@example.com'), 'bcc in the envelope');
	});

	test('4xx is retried until accepted; 5xx fails with the reason', async () => {
		const send = async (to) =>
			h.expectStatus(await srv.req('POST', '/v1/emails', { token: T.token, json: { from: 'a@acme.example.com', to: [to], subject: `to ${to}`, text: 't' } }), 201);
		const waitEmail = async (id, pred, ms, what) => {
			const end = Date.now() + ms;
			let e;
			while (Date.now() < end) {
				e = (await srv.req('GET', `/v1/emails/${id}`, { token: T.token })).body;
				if (pred(e))
					return e;
				await h.sleep(100);
			}
			throw new Error(`${what}: ${JSON.stringify(e)}`);
		};
		const perm = await send('perm@x.test');
		const temp = await send('temp@x.test');
		const p = await waitEmail(perm.id, (e) => e.status === 'failed', 15000, '550 fails');
		assert.equal(p.smtp_code, 550);
		assert.match(p.error_message, /550/);
		assert.equal(p.attempts, 1, 'a 5xx is not retried');
		const t1 = await waitEmail(temp.id, (e) => e.attempts >= 1, 15000, 'a first 451');
		assert.equal(t1.status, 'queued', 'a 4xx keeps it queued for a retry');
		assert.equal(t1.smtp_code, 451);
		delete replies['temp@x.test']; // the relay recovers
		const t2 = await waitEmail(temp.id, (e) => e.status === 'sent', 30000, 'sent after the retry');
		assert.ok(t2.attempts >= 2);
		assert.equal(t2.smtp_code, 250);
		assert.ok(sink.mails.some((m) => m.subject === 'to temp@x.test'));
		assert.ok(!sink.mails.some((m) => m.subject === 'to perm@x.test'));
	});

	test('the auth outbox (a password reset) is sent through the relay and its token purged', async () => {
		h.expectStatus(await srv.req('POST', '/v1/auth/password-reset/request', { json: { email: T.email } }), 202);
		let mail;
		for (let i = 0; i < 100 && !mail; i++) {
			await h.sleep(100);
			mail = sink.mails.find((m) => m.subject === 'Reset your IRISX password' && JSON.stringify(m.to).includes(T.email.toLowerCase()));
		}
		assert.ok(mail, 'reset mail at the relay');
		assert.match(mail.text, /token: \S+/);
		const token = /token: (\S+)/.exec(mail.text)[1];
		let row;
		for (let i = 0; i < 50; i++) {
			const box = await h.listAll(srv, '/v1/admin/email-outbox', { token: srv.adminToken });
			row = box.find((m) => m.to_addr === T.email.toLowerCase() && m.kind === 'password_reset');
			if (row && row.status === 'sent')
				break;
			await h.sleep(100);
		}
		assert.equal(row.status, 'sent');
		assert.ok(!row.body.includes(token), 'the one-time token is purged once sent');
		// and it works
		const ok = await srv.req('POST', '/v1/auth/password-reset/confirm', { json: { token, new_password: 'another-long-password-42' } });
		h.expectStatus(ok, [200, 204]);
		T.token = (await h.login(srv, T.email, 'another-long-password-42')).access_token; // the reset ended the sessions
	});

	test('bad e-mail requests', async () => {
		const bad = [
			[{ from: 'nope', to: ['a@b.co'], subject: 's', text: 't' }, 'invalid_address', 'from'],
			[{ from: 'a@b.co', to: [], subject: 's', text: 't' }, 'invalid_field', 'to'],
			[{ from: 'a@b.co', to: ['x'], subject: 's', text: 't' }, 'invalid_address', 'to'],
			[{ from: 'a@b.co', to: ['c@d.co'], subject: 's' }, 'missing_field', 'text'],
			[{ from: 'a@b.co', to: ['c@d.co'], text: 't' }, 'missing_field', 'subject'],
			[{ from: 'a@b.co', to: ['c@d.co'], subject: 'a\r\nBcc: x@y.z', text: 't' }, 'invalid_field', 'subject'],
			[{ from: 'a@b.co', to: ['c@d.co'], subject: 's', text: 't', attachments: [{ filename: 'x', content: '!!!' }] }, 'invalid_attachment', 'attachments'],
			[{ from: 'a@b.co', to: ['c@d.co'], template_id: 'ET' + '0'.repeat(32) }, 'unknown_template', 'template_id'],
		];
		for (const [json, code, field] of bad)
			h.expectError(await srv.req('POST', '/v1/emails', { token: T.token, json }), 400, code, field);
	});
});
