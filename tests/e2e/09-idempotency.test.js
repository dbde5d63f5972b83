// 09: Idempotency-Key on creates: replay (same status, body, Idempotent-Replayed: true),
// conflict (422), 50 concurrent identical requests -> one resource, per-tenant scope,
// survives a restart.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv, a, b;
before(async () => {
	srv = await h.startServer({ tag: 'idem', admin: true });
	a = await h.registerTenant(srv, { tag: 'idem-a' });
	b = await h.registerTenant(srv, { tag: 'idem-b' });
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

const post = (p, json, key, token) =>
	srv.req('POST', p, { token: token || a.token, json, headers: key ? { 'idempotency-key': key } : {} });

async function countKeys(token, name) {
	const all = await h.listAll(srv, '/v1/api-keys', { token });
	return all.filter((k) => k.name === name).length;
}

test('api key: replay returns the stored answer; other body -> 422', async () => {
	const key = `idem-${h.rand()}`;
	const body = { name: `replayed-${h.rand(3)}` };
	const r1 = await post('/v1/api-keys', body, key);
	h.expectStatus(r1, 201);
	assert.notEqual(r1.h('idempotent-replayed'), 'true', 'first answer marked as replayed');
	const r2 = await post('/v1/api-keys', body, key);
	h.expectStatus(r2, 201, 'replay');
	assert.equal(r2.h('idempotent-replayed'), 'true');
	// a replay omits the secret: it is stored nowhere (OpenAPI: ApiKeyWithSecret)
	assert.ok(!('secret' in r2.body) && !r2.text.includes(r1.body.secret), 'the replay hands out the secret again');
	const { secret, ...shown } = r1.body;
	assert.ok(secret);
	assert.deepEqual(r2.body, shown, 'replayed body differs');
	assert.equal(await countKeys(a.token, body.name), 1, 'replay created a second key');

	const c = await post('/v1/api-keys', { name: 'something else' }, key);
	h.expectError(c, 422, 'idempotency_conflict');
	// the same key on another create route is a different request too
	const u = await post('/v1/users', { email: h.uniqEmail('idem'), role: 'viewer' }, key);
	h.expectError(u, 422, 'idempotency_conflict');
	// a request without the header creates a new key each time
	h.expectStatus(await post('/v1/api-keys', body), 201);
	assert.equal(await countKeys(a.token, body.name), 2);
});

test('the same key in another tenant is a different request', async () => {
	const key = `shared-${h.rand()}`;
	const body = { name: 'same-name' };
	const ra = await post('/v1/api-keys', body, key, a.token);
	h.expectStatus(ra, 201);
	const rb = await post('/v1/api-keys', body, key, b.token);
	h.expectStatus(rb, 201, 'tenant B with tenant A\'s idempotency key');
	assert.notEqual(rb.h('idempotent-replayed'), 'true', 'B got A\'s stored answer');
	assert.notEqual(rb.body.id, ra.body.id, 'B got A\'s key');
	assert.notEqual(rb.body.secret, ra.body.secret, 'B got A\'s secret');
	const me = await srv.req('GET', '/v1/auth/me', { token: rb.body.secret });
	assert.equal(me.body.tenant.id, b.tenantId);
});

test('users and admin tenants replay too', async () => {
	const key = `user-${h.rand()}`;
	const body = { email: h.uniqEmail('idem-user'), role: 'viewer', password: h.PASSWORD };
	const u1 = await post('/v1/users', body, key);
	h.expectStatus(u1, 201);
	const u2 = await post('/v1/users', body, key);
	h.expectStatus(u2, 201, 'user replay (not 409 email_taken)');
	assert.equal(u2.h('idempotent-replayed'), 'true');
	assert.equal(u2.body.id, u1.body.id);

	const tk = `tenant-${h.rand()}`;
	const tb = { name: 'Idem Corp', owner_email: h.uniqEmail('idem-owner'), owner_password: h.PASSWORD };
	const t1 = await post('/v1/admin/tenants', tb, tk, srv.adminToken);
	h.expectStatus(t1, 201);
	const t2 = await post('/v1/admin/tenants', tb, tk, srv.adminToken);
	h.expectStatus(t2, 201, 'admin tenant replay');
	assert.equal(t2.h('idempotent-replayed'), 'true');
	assert.equal(t2.body.tenant.id, t1.body.tenant.id);
	h.expectError(await post('/v1/admin/tenants', { ...tb, name: 'Other' }, tk, srv.adminToken), 422, 'idempotency_conflict');
});

test('a failed create retried with the same key gets the same 400', async () => {
	const key = `fail-${h.rand()}`;
	const r1 = await post('/v1/api-keys', { name: 'x', role: 'nope' }, key);
	h.expectError(r1, 400);
	const r2 = await post('/v1/api-keys', { name: 'x', role: 'nope' }, key);
	assert.equal(r2.status, 400, `retry of a 400: ${h.describeRes(r2)}`);
});

test('Idempotency-Key must be 1..255 characters', async () => {
	h.expectError(await post('/v1/api-keys', { name: 'x' }, 'k'.repeat(256)), 400, undefined);
	h.expectStatus(await post('/v1/api-keys', { name: 'x' }, 'k'.repeat(255)), 201);
});

test('50 concurrent identical requests with one key create exactly one resource', async () => {
	const key = `conc-${h.rand()}`;
	const body = { name: `concurrent-${h.rand(3)}` };
	const rs = await Promise.all(Array.from({ length: 50 }, () => post('/v1/api-keys', body, key)));
	const statuses = rs.map((r) => r.status);
	assert.ok(!statuses.some((s) => s >= 500), `5xx among concurrent requests: ${statuses}`);
	const created = rs.filter((r) => r.status === 201);
	assert.ok(created.length >= 1, `no 201: ${statuses}`);
	// anything not 201 must be a clear "in progress" answer, never a second resource
	for (const r of rs)
		if (r.status !== 201)
			assert.ok([409, 429].includes(r.status), `unexpected ${h.describeRes(r)}`);
	const ids = new Set(created.map((r) => r.body.id));
	assert.equal(ids.size, 1, `concurrent creates answered with ${ids.size} different ids`);
	assert.equal(await countKeys(a.token, body.name), 1, 'more than one key created');
	// later retries replay
	const later = await post('/v1/api-keys', body, key);
	h.expectStatus(later, 201);
	assert.equal(later.body.id, [...ids][0]);
});

test('stored answers survive a restart', async () => {
	const key = `restart-${h.rand()}`;
	const body = { name: `durable-${h.rand(3)}` };
	const r1 = await post('/v1/api-keys', body, key);
	h.expectStatus(r1, 201);
	await srv.restart();
	a = { ...a, ...(await h.login(srv, a.email)) };
	a.token = a.access_token;
	const r2 = await post('/v1/api-keys', body, key);
	h.expectStatus(r2, 201);
	assert.equal(r2.h('idempotent-replayed'), 'true');
	assert.equal(r2.body.id, r1.body.id);
	h.expectError(await post('/v1/api-keys', { name: 'changed' }, key), 422, 'idempotency_conflict');
});
