// 53-calls-tls: a carrier reached over TLS from a real `irisx serve` (voice.tls_cert for our
// listener and client context, voice.tls_ca for the carriers' CAs). A carrier whose
// certificate the CA signed answers: the call completes, and the carrier saw the INVITE on
// its TLS listener. A carrier with a certificate nobody trusts gets no INVITE: the attempt
// fails with code 0 and the call is failed.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');
const { Uas } = require('./lib/voice');

const FROM = '+15550005300';
let srv, T, docs, dir;
const certs = {};
const uases = [];

function makeCert(cn) {
	const key = path.join(dir, `key-${cn}.pem`);
	const cert = path.join(dir, `cert-${cn}.pem`);
	execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
		'-days', '1', '-subj', `/CN=${cn}`], { stdio: 'ignore' });
	const both = path.join(dir, `both-${cn}.pem`);
	fs.writeFileSync(both, fs.readFileSync(cert, 'latin1') + fs.readFileSync(key, 'latin1'));
	return { key, cert, both };
}

const admin = (m, p, o = {}) => srv.req(m, p, { token: srv.adminToken, ...o });

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

/* A carrier: voice_uas with a TLS listener presenting cert; the operator's only carrier. */
async function tlsCarrier(cert, rtp) {
	const uas = await new Uas(['--rtp-min', String(rtp), '--rtp-max', String(rtp + 99), '--max-calls', '10',
		'--tls-cert', cert.both, '--tls-port', '0', '--hangup-after', '800']).start();
	uases.push(uas);
	const port = +(await uas.waitFor(/^TLS port=(\d+)$/m))[1];
	for (const c of (await admin('GET', '/v1/admin/carriers')).body.data || [])
		await admin('DELETE', `/v1/admin/carriers/${c.id}`);
	const c = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: `tls${rtp}`, host: '127.0.0.1', port, transport: 'tls', ping_ms: 0 } }), 201);
	h.expectStatus(await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, { body: 'prefix,cost_per_min\n1,0.01\n', headers: { 'content-type': 'text/csv' } }), 200);
	return { uas, port, id: c.id };
}

before(async () => {
	dir = h.tmpDir('callstls');
	certs.irisx = makeCert('irisx.test');
	certs.carrier = makeCert('127.0.0.1');
	certs.stranger = makeCert('stranger.test');
	docs = await startReceiver((req) => {
		if (req.path !== '/hello')
			return { status: 204 };
		return { status: 200, headers: { 'content-type': 'text/xml' }, body: '<Response><Pause length="5"/><Hangup/></Response>' };
	});
	srv = await h.startServer({
		tag: 'tls',
		admin: true,
		env: {
			IRISX_VOICE_ENABLED: 'true',
			IRISX_VOICE_MAX_CALLS: '20',
			IRISX_VOICE_SIP_PORT: String(await h.freePort()),
			IRISX_VOICE_TLS_CERT: certs.irisx.both,
			IRISX_VOICE_TLS_PORT: '0',
			IRISX_VOICE_TLS_CA: certs.carrier.cert,
			IRISX_VOICE_RTP_PORT_MIN: '43000',
			IRISX_VOICE_RTP_PORT_MAX: '43099',
			IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
		},
	});
	T = await h.registerTenant(srv, { tag: 'tls' });
	h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { json: { number: FROM, tenant_id: T.tenantId } }), 201);
	assert.match(srv.logs, /"msg":"voice engine started".*"tls_port":"[1-9]\d*"/, 'the TLS listener is up and logged');
});

after(async () => {
	for (const u of uases)
		await u.kill();
	if (docs)
		await docs.close();
	if (srv)
		await srv.cleanup();
	if (dir)
		h.rmDir(dir);
});

test('a carrier over TLS whose certificate voice.tls_ca trusts: the call completes', { timeout: 40000 }, async () => {
	const car = await tlsCarrier(certs.carrier, 43200);
	const r = h.expectStatus(await srv.req('POST', '/v1/calls', { token: T.token, json: { from: FROM, to: '+15551230053', url: docs.url('/hello') } }), 201);
	const c = await waitCall(r.id, (x) => ['completed', 'failed', 'busy', 'no-answer'].includes(x.status));
	assert.equal(c.status, 'completed', JSON.stringify(c));
	assert.equal(c.attempts.length, 1);
	assert.equal(c.attempts[0].code, 200);
	assert.match(c.attempts[0].uri, /;transport=tls/);
	assert.equal(car.uas.lines(/^INCOMING .*transport=tcp$/).length, 1, car.uas.out);
});

test('a carrier whose certificate nobody trusts gets no INVITE: the attempt fails with code 0', { timeout: 40000 }, async () => {
	const car = await tlsCarrier(certs.stranger, 43400);
	const r = h.expectStatus(await srv.req('POST', '/v1/calls', { token: T.token, json: { from: FROM, to: '+15551230054', url: docs.url('/hello') } }), 201);
	const c = await waitCall(r.id, (x) => ['completed', 'failed', 'busy', 'no-answer'].includes(x.status));
	assert.equal(c.status, 'failed', JSON.stringify(c));
	assert.equal(c.attempts.length, 1);
	assert.equal(c.attempts[0].code, 0, 'a transport error, no SIP answer');
	await h.sleep(300);
	assert.equal(car.uas.lines(/^INCOMING /).length, 0, car.uas.out);
});
