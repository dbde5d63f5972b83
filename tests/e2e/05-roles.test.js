// 05: role checks: each role (as an API key and as a logged-in user) against each route class.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv, owner;
const keys = {};
before(async () => {
	srv = await h.startServer({ tag: 'roles', admin: true });
	owner = await h.registerTenant(srv, { tag: 'roles' });
	for (const role of ['viewer', 'agent', 'developer', 'admin', 'owner'])
		keys[role] = await h.createKey(srv, owner.token, { role, name: `${role}-key` });
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

const RANK = { viewer: 0, agent: 1, developer: 2, admin: 3, owner: 4 };

/* [method, path, body, minimum role]; platform routes need platform_admin. */
function matrix() {
	return [
		['GET', '/v1/auth/me', undefined, 'viewer'],
		['GET', '/v1/tenant', undefined, 'viewer'],
		['GET', '/v1/api-keys', undefined, 'developer'],
		['GET', `/v1/api-keys/${keys.viewer.id}`, undefined, 'developer'],
		['POST', '/v1/api-keys', { name: 'made-by-role' }, 'admin'],
		['PATCH', '/v1/tenant', { name: 'Renamed by role' }, 'admin'],
		['GET', '/v1/users', undefined, 'admin'],
		['GET', `/v1/users/${owner.userId}`, undefined, 'admin'],
		['POST', '/v1/users', { email: h.uniqEmail('byrole'), role: 'viewer' }, 'admin'],
		['GET', '/v1/audit-logs', undefined, 'admin'],
		['GET', '/v1/admin/tenants', undefined, 'platform'],
		['POST', '/v1/admin/tenants', { name: 'x', owner_email: h.uniqEmail('x') }, 'platform'],
		['GET', `/v1/admin/tenants/${owner.tenantId}`, undefined, 'platform'],
		['GET', `/v1/admin/tenants/${owner.tenantId}/limits`, undefined, 'platform'],
		['PUT', `/v1/admin/tenants/${owner.tenantId}/limits`, { key_rps: 500, key_burst: 1000, tenant_rps: 1000, tenant_burst: 2000 }, 'platform'],
		['POST', `/v1/admin/tenants/${owner.tenantId}/resume`, undefined, 'platform'],
		['GET', '/v1/admin/audit-logs', undefined, 'platform'],
		['GET', '/v1/admin/email-outbox', undefined, 'platform'],
	];
}

function allowed(role, min) {
	if (min === 'platform')
		return false;
	return RANK[role] >= RANK[min];
}

async function check(auth, role, label) {
	const bad = [];
	for (const [m, p, body, min] of matrix()) {
		const o = { ...auth };
		if (body)
			o.json = typeof body === 'function' ? body() : { ...body, ...(body.email ? { email: h.uniqEmail(role) } : {}) };
		const r = await srv.req(m, p, o);
		if (allowed(role, min)) {
			if (r.status >= 300)
				bad.push(`${label} ${m} ${p}: expected 2xx, got ${r.status} ${r.text.slice(0, 200)}`);
		} else if (r.status !== 403 || !r.body || !r.body.error || r.body.error.code !== 'forbidden') {
			bad.push(`${label} ${m} ${p}: expected 403 forbidden, got ${r.status} ${r.text.slice(0, 200)}`);
		}
	}
	assert.deepEqual(bad, [], bad.join('\n'));
}

for (const role of ['viewer', 'agent', 'developer', 'admin', 'owner']) {
	test(`${role} API key`, async () => {
		await check({ token: keys[role].secret }, role, `${role} key`);
	});
}

test('users of each role (JWT) get the same answers as keys', async () => {
	for (const role of ['viewer', 'agent', 'developer', 'admin']) {
		const email = h.uniqEmail(`u-${role}`);
		const c = await srv.req('POST', '/v1/users', { token: owner.token, json: { email, role, password: h.PASSWORD } });
		h.expectStatus(c, 201, `create ${role} user`);
		const l = await h.login(srv, email);
		assert.equal(l.user.role, role);
		await check({ token: l.access_token }, role, `${role} user`);
	}
	await check({ token: owner.token }, 'owner', 'owner user');
});

test('no one creates a key above their own role', async () => {
	const order = ['viewer', 'agent', 'developer', 'admin', 'owner'];
	const adminKey = keys.admin.secret;
	for (const role of order) {
		const r = await srv.req('POST', '/v1/api-keys', { token: adminKey, json: { name: `by-admin-${role}`, role } });
		if (RANK[role] <= RANK.admin)
			h.expectStatus(r, 201, `admin key creating a ${role} key`);
		else
			h.expectError(r, 403, 'forbidden');
	}
	h.expectStatus(await srv.req('POST', '/v1/api-keys', { token: keys.owner.secret, json: { name: 'owner-by-owner', role: 'owner' } }), 201);
	// nor a user above their own role
	const u = await srv.req('POST', '/v1/users', { token: adminKey, json: { email: h.uniqEmail('esc'), role: 'owner', password: h.PASSWORD } });
	h.expectError(u, 403, 'forbidden');
	// nor promote someone (or themselves) above it
	const email = h.uniqEmail('target');
	const made = await srv.req('POST', '/v1/users', { token: adminKey, json: { email, role: 'viewer', password: h.PASSWORD } });
	h.expectStatus(made, 201);
	const p = await srv.req('PATCH', `/v1/users/${made.body.id}`, { token: adminKey, json: { role: 'owner' } });
	h.expectError(p, 403, 'forbidden');
});

test('an admin cannot change or disable the owner', async () => {
	const email = h.uniqEmail('adm');
	h.expectStatus(await srv.req('POST', '/v1/users', { token: owner.token, json: { email, role: 'admin', password: h.PASSWORD } }), 201);
	const adm = await h.login(srv, email);
	const r = await srv.req('PATCH', `/v1/users/${owner.userId}`, { token: adm.access_token, json: { disabled: true } });
	h.expectError(r, 403, 'forbidden');
	const r2 = await srv.req('PATCH', `/v1/users/${owner.userId}`, { token: adm.access_token, json: { role: 'viewer' } });
	h.expectError(r2, 403, 'forbidden');
	h.expectStatus(await srv.req('GET', '/v1/auth/me', { token: owner.token }), 200, 'owner still works');
});

test('platform admin reaches /v1/admin/*', async () => {
	const me = await srv.req('GET', '/v1/auth/me', { token: srv.adminToken });
	h.expectStatus(me, 200);
	assert.equal(me.body.role, 'platform_admin');
	for (const p of ['/v1/admin/tenants', `/v1/admin/tenants/${owner.tenantId}`, '/v1/admin/audit-logs', '/v1/admin/email-outbox'])
		h.expectStatus(await srv.req('GET', p, { token: srv.adminToken }), 200, `platform admin GET ${p}`);
});

test('unauthenticated requests get 401 (not 403) on protected routes', async () => {
	for (const [m, p, body] of matrix()) {
		const r = await srv.req(m, p, body ? { json: body } : {});
		h.expectError(r, 401);
	}
});
