// 08: token buckets per key and per tenant (429 + Retry-After + RateLimit-* headers) and
// login failure limits per account and per client IP (429 too_many_attempts).
'use strict';

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

describe('request rate limits', () => {
	let srv, t;
	before(async () => {
		srv = await h.startServer({ tag: 'rl', admin: true });
		t = await h.registerTenant(srv, { tag: 'rl' });
	});
	after(async () => {
		if (srv)
			await srv.cleanup();
	});

	const limits = (id, l) => srv.req('PUT', `/v1/admin/tenants/${id}/limits`, { token: srv.adminToken, json: l });

	test('authenticated responses carry RateLimit-Limit/-Remaining/-Reset', async () => {
		const r = await srv.req('GET', '/v1/tenant', { token: t.token });
		h.expectStatus(r, 200);
		for (const n of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'])
			assert.match(r.h(n) || '', /^\d+$/, `${n}: ${r.h(n)}`);
		assert.ok(+r.h('ratelimit-remaining') < +r.h('ratelimit-limit'));
		const r2 = await srv.req('GET', '/v1/tenant', { token: t.token });
		assert.ok(+r2.h('ratelimit-remaining') <= +r.h('ratelimit-remaining'), 'remaining did not go down');
		// also on errors produced after authentication
		const e = await srv.req('GET', `/v1/api-keys/KE${'0'.repeat(32)}`, { token: t.token });
		h.expectError(e, 404);
		assert.ok(e.h('ratelimit-limit'), 'no RateLimit-Limit on an authenticated 404');
	});

	test('per-key bucket: burst 5, 1 rps -> 429 rate_limited with Retry-After, refills', async () => {
		const t2 = await h.registerTenant(srv, { tag: 'rl-key' });
		const k = await h.createKey(srv, t2.token, { role: 'viewer' });
		const other = await h.createKey(srv, t2.token, { role: 'viewer' });
		h.expectStatus(await limits(t2.tenantId, { tenant_rps: 1000, tenant_burst: 2000, key_rps: 1, key_burst: 5 }), 200);
		const res = [];
		for (let i = 0; i < 10; i++)
			res.push(await srv.req('GET', '/v1/tenant', { token: k.secret }));
		const codes = res.map((r) => r.status);
		const ok = codes.filter((c) => c === 200).length;
		assert.ok(ok >= 5 && ok <= 6, `expected 5 (6 with a refill) of 10 to pass, got ${codes}`);
		assert.deepEqual(codes.slice(0, 5), [200, 200, 200, 200, 200], `first five: ${codes}`);
		const denied = res.find((r) => r.status === 429);
		h.expectError(denied, 429, 'rate_limited');
		assert.match(denied.h('retry-after') || '', /^[1-9]\d*$/, `Retry-After: ${denied.h('retry-after')}`);
		assert.ok(+denied.h('retry-after') <= 2);
		assert.equal(denied.h('ratelimit-remaining'), '0');
		assert.equal(denied.h('ratelimit-limit'), '5');
		// another key of the same tenant has its own bucket
		h.expectStatus(await srv.req('GET', '/v1/tenant', { token: other.secret }), 200, 'second key is not limited');
		// after Retry-After the key works again
		await h.sleep(+denied.h('retry-after') * 1000 + 100);
		h.expectStatus(await srv.req('GET', '/v1/tenant', { token: k.secret }), 200, 'after Retry-After');
	});

	test('per-tenant bucket: shared by all keys of the tenant', async () => {
		const t3 = await h.registerTenant(srv, { tag: 'rl-tenant' });
		const k1 = await h.createKey(srv, t3.token, { role: 'viewer' });
		const k2 = await h.createKey(srv, t3.token, { role: 'viewer' });
		h.expectStatus(await limits(t3.tenantId, { tenant_rps: 1, tenant_burst: 6, key_rps: 1000, key_burst: 1000 }), 200);
		const codes = [];
		let denied;
		for (let i = 0; i < 12; i++) {
			const r = await srv.req('GET', '/v1/tenant', { token: i % 2 ? k1.secret : k2.secret });
			codes.push(r.status);
			if (r.status === 429)
				denied = denied || r;
		}
		const ok = codes.filter((c) => c === 200).length;
		assert.ok(ok >= 6 && ok <= 7, `tenant burst 6: ${codes}`);
		h.expectError(denied, 429, 'rate_limited');
		assert.ok(denied.h('retry-after'), 'no Retry-After');
		// another tenant is unaffected
		h.expectStatus(await srv.req('GET', '/v1/tenant', { token: t.token }), 200, 'other tenant');
	});

	test('429s under a concurrent burst; no 5xx', async () => {
		const t4 = await h.registerTenant(srv, { tag: 'rl-burst' });
		const k = await h.createKey(srv, t4.token, { role: 'viewer' });
		h.expectStatus(await limits(t4.tenantId, { tenant_rps: 1, tenant_burst: 20, key_rps: 1, key_burst: 20 }), 200);
		const rs = await Promise.all(Array.from({ length: 100 }, () => srv.req('GET', '/v1/tenant', { token: k.secret })));
		const ok = rs.filter((r) => r.status === 200).length;
		const limited = rs.filter((r) => r.status === 429).length;
		assert.equal(ok + limited, 100, `other statuses: ${rs.map((r) => r.status)}`);
		assert.ok(ok >= 20 && ok <= 23, `burst 20 of 100 concurrent: ${ok} passed`);
	});

	test('environment defaults apply to new tenants (IRISX_RATELIMIT_KEY_BURST)', async () => {
		await srv.restart({ IRISX_RATELIMIT_KEY_BURST: '3', IRISX_RATELIMIT_KEY_RPS: '1' });
		const t5 = await h.registerTenant(srv, { tag: 'rl-env' });
		const codes = [];
		for (let i = 0; i < 5; i++)
			codes.push((await srv.req('GET', '/v1/tenant', { token: t5.token })).status);
		assert.deepEqual(codes.slice(0, 3), [200, 200, 200], String(codes));
		assert.ok(codes.includes(429), `key burst 3 from the environment: ${codes}`);
	});
});

describe('login failure limits', () => {
	let srv;
	before(async () => {
		srv = await h.startServer({
			tag: 'lockout',
			env: { IRISX_AUTH_LOGIN_MAX_FAILURES: '3', IRISX_AUTH_LOGIN_WINDOW_S: '60', IRISX_HTTP_TRUST_PROXY: 'true' },
		});
	});
	after(async () => {
		if (srv)
			await srv.cleanup();
	});

	const loginFrom = (ip, email, password) =>
		srv.req('POST', '/v1/auth/login', { json: { email, password }, headers: { 'x-forwarded-for': ip } });

	test('per account: after 3 failures even the right password gets 429 with Retry-After', async () => {
		const t = await h.registerTenant(srv, { tag: 'lock-acct' });
		// failures from three different addresses, so only the account counter reaches 3
		for (let i = 0; i < 3; i++)
			h.expectError(await loginFrom(`198.51.100.${10 + i}`, t.email, 'wrong-password-xx'), 401, 'invalid_credentials');
		const r = await loginFrom('198.51.100.50', t.email, t.password);
		h.expectError(r, 429, 'too_many_attempts');
		assert.match(r.h('retry-after') || '', /^[1-9]\d*$/, `Retry-After: ${r.h('retry-after')}`);
		assert.ok(+r.h('retry-after') <= 60);
		assert.ok(!r.body.access_token, 'tokens issued while locked');
		// another account from the same new address is fine
		const t2 = await h.registerTenant(srv, { tag: 'lock-other' });
		h.expectStatus(await loginFrom('198.51.100.50', t2.email, t2.password), 200, 'other account');
	});

	test('per IP: failures across accounts lock the address, not the accounts', async () => {
		const ip = '203.0.113.7';
		for (let i = 0; i < 3; i++)
			h.expectError(await loginFrom(ip, h.uniqEmail('ghost'), 'wrong-password-xx'), 401, 'invalid_credentials');
		const t = await h.registerTenant(srv, { tag: 'lock-ip' });
		const r = await loginFrom(ip, t.email, t.password);
		h.expectError(r, 429, 'too_many_attempts');
		assert.ok(r.h('retry-after'), 'no Retry-After');
		h.expectStatus(await loginFrom('203.0.113.8', t.email, t.password), 200, 'same account from another address');
	});

	test('a success does not hide failures below the limit from the counter of others', async () => {
		// 2 failures then a success: the account stays usable
		const t = await h.registerTenant(srv, { tag: 'lock-ok' });
		for (let i = 0; i < 2; i++)
			h.expectError(await loginFrom(`192.0.2.${20 + i}`, t.email, 'wrong-password-xx'), 401);
		h.expectStatus(await loginFrom('192.0.2.30', t.email, t.password), 200);
	});

	test('the window expires (IRISX_AUTH_LOGIN_WINDOW_S=2)', async () => {
		await srv.restart({ IRISX_AUTH_LOGIN_WINDOW_S: '2' });
		const t = await h.registerTenant(srv, { tag: 'lock-window' });
		for (let i = 0; i < 3; i++)
			await loginFrom(`192.0.2.${100 + i}`, t.email, 'wrong-password-xx');
		h.expectError(await loginFrom('192.0.2.110', t.email, t.password), 429, 'too_many_attempts');
		await h.sleep(3000);
		h.expectStatus(await loginFrom('192.0.2.111', t.email, t.password), 200, 'after the window');
	});
});
