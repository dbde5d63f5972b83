// 16: the SSRF guard with outbound.allow_private off (the default): private, loopback,
// link-local (metadata) and encoded-IP URLs are refused when an endpoint is created; a
// name that resolves to loopback passes the URL check but is refused at connect time, so
// the receiver never sees a connection. Then an endpoint failing for "5 days" (the
// schedule compressed) is disabled and the tenant is told.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const dns = require('node:dns');
const os = require('node:os');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');

let strict, loose, rcv;
before(async () => {
	rcv = await startReceiver(() => ({ status: 204 }));
	strict = await h.startServer({ tag: 'ssrf' });
	// 1 schedule second = 10 us: 5 days (432,000 s) = 4.3 s; the 8 attempts take 1 s
	loose = await h.startServer({
		tag: 'disable',
		env: { IRISX_OUTBOUND_ALLOW_PRIVATE: 'true', IRISX_WEBHOOKS_RETRY_UNIT_US: '10' },
	});
});
after(async () => {
	if (rcv)
		await rcv.close();
	if (strict)
		await strict.cleanup();
	if (loose)
		await loose.cleanup();
});

test('private, loopback, metadata and encoded addresses are refused at create', async () => {
	const t = await h.registerTenant(strict, { tag: 'ssrf' });
	const urls = [
		'http://127.0.0.1:8080/x',
		'http://10.1.2.3/x',
		'http://172.16.0.1/x',
		'http://192.168.1.1/x',
		'http://169.254.169.254/latest/meta-data/',
		'http://100.64.0.1/x',
		'http://0.0.0.0/x',
		'http://[::1]/x',
		'http://[fd00::1]/x',
		'http://[fe80::1]/x',
		'http://[::ffff:127.0.0.1]/x',
		'http://[::ffff:a9fe:a9fe]/x',
		'http://[64:ff9b::a00:1]/x',
		'http://2130706433/x',
		'http://0x7f000001/x',
		'http://0177.0.0.1/x',
		'http://127.1/x',
		'http://224.0.0.1/x',
	];
	const wrong = [];
	for (const url of urls) {
		const r = await strict.req('POST', '/v1/webhooks', { token: t.token, json: { url } });
		if (r.status !== 400 || !r.body.error || r.body.error.code !== 'invalid_url' || r.body.error.field !== 'url')
			wrong.push(`${url} -> ${r.status} ${r.text.slice(0, 120)}`);
	}
	assert.deepEqual(wrong, []);
	for (const url of ['http://localhost:9/x', 'http://a.localhost/x']) {
		const r = await strict.req('POST', '/v1/webhooks', { token: t.token, json: { url } });
		h.expectError(r, 400, 'invalid_url', 'url');
	}
	const ok = await strict.req('POST', '/v1/webhooks', { token: t.token, json: { url: 'https://hooks.example.com/x' } });
	h.expectStatus(ok, 201, 'a public name is fine');
});

/* A name other than "localhost" (which the URL check refuses by name) that resolves to a
   loopback address: the machine's own host name, mapped to 127.0.x.1 in /etc/hosts. */
async function loopbackName() {
	const name = os.hostname();
	try {
		const all = await dns.promises.lookup(name, { all: true });
		return all.length && all.every((a) => a.address.startsWith('127.')) ? name : null;
	} catch {
		return null;
	}
}

test('a name resolving to loopback is refused at connect time: the receiver sees nothing', async (t0) => {
	const name = await loopbackName();
	if (!name)
		return t0.skip(`the host name ${os.hostname()} does not resolve to loopback here`);
	const t = await h.registerTenant(strict, { tag: 'ssrf2' });
	const c0 = rcv.connections;
	const r = await strict.req('POST', '/v1/webhooks', { token: t.token, json: { url: `http://${name}:${rcv.port}/rebind` } });
	const ep = h.expectStatus(r, 201, 'names pass the URL check');
	h.expectStatus(await strict.req('POST', `/v1/webhooks/${ep.id}/test`, { token: t.token }), 202);
	let d = [];
	for (let i = 0; i < 200 && !d.length; i++) {
		await h.sleep(25);
		d = (await h.listAll(strict, `/v1/webhooks/${ep.id}/deliveries`, { token: t.token })).reverse();
	}
	assert.ok(d.length >= 1, 'an attempt was logged');
	assert.equal(d[0].error, 'blocked_address');
	assert.equal(d[0].status_code, 0);
	assert.equal(d[0].outcome, 'retrying');
	await h.sleep(300);
	assert.equal(rcv.connections, c0, 'no connection reached the receiver');
	assert.equal(rcv.on('/rebind').length, 0);
});

test('an endpoint failing for 5 days (compressed) is disabled and the tenant gets an event', async () => {
	const t = await h.registerTenant(loose, { tag: 'fail5d' });
	const bad = await startReceiver(() => ({ status: 500 }));
	try {
		const ep = h.expectStatus(await loose.req('POST', '/v1/webhooks', { token: t.token, json: { url: bad.url('/fails') } }), 201);
		const watch = h.expectStatus(
			await loose.req('POST', '/v1/webhooks', { token: t.token, json: { url: rcv.url('/watch'), events: ['webhook.endpoint_disabled'] } }),
			201
		);
		const t0 = Date.now();
		let got = null;
		for (let i = 0; i < 40; i++) {
			const f = await loose.req('POST', `/v1/webhooks/${ep.id}/test`, { token: t.token });
			if (f.status === 409)
				break; // disabled
			h.expectStatus(f, 202);
			await h.sleep(300);
			got = h.expectStatus(await loose.req('GET', `/v1/webhooks/${ep.id}`, { token: t.token }), 200);
			if (!got.enabled)
				break;
		}
		got = h.expectStatus(await loose.req('GET', `/v1/webhooks/${ep.id}`, { token: t.token }), 200);
		assert.equal(got.enabled, false, 'disabled');
		assert.match(got.disabled_reason, /too long/);
		const took = Date.now() - t0;
		assert.ok(took >= 4000, `disabled after ${took} ms, before 5 (compressed) days`);
		await rcv.waitFor(() => rcv.on('/watch').length >= 1, 10000, 'the disabled event');
		const ev = JSON.parse(rcv.on('/watch')[0].body);
		assert.equal(ev.type, 'webhook.endpoint_disabled');
		assert.equal(ev.data.endpoint_id, ep.id);
		void watch;
	} finally {
		await bad.close();
	}
});
