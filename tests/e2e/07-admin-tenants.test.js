// 07: platform admin: tenants create/list/fetch, suspend (keys and tokens refused), resume,
// delete, rate-limit settings.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv;
before(async () => {
	srv = await h.startServer({ tag: 'admin', admin: true });
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

const admin = (m, p, json) => srv.req(m, p, { token: srv.adminToken, json });

async function newTenant(o = {}) {
	const owner_email = h.uniqEmail('adm-owner');
	const json = { name: o.name || `Managed ${h.rand(3)}`, owner_email, owner_name: 'Olivia Owner' };
	if (o.password !== false)
		json.owner_password = h.PASSWORD;
	const r = await admin('POST', '/v1/admin/tenants', json);
	h.expectStatus(r, 201, 'admin create tenant');
	return { ...r.body, owner_email };
}

test('the platform admin is a normal login with role platform_admin', async () => {
	const me = await srv.req('GET', '/v1/auth/me', { token: srv.adminToken });
	h.expectStatus(me, 200);
	assert.equal(me.body.role, 'platform_admin');
	// creating the same admin twice fails cleanly
	const r = srv.cli(['admin', 'create-platform-admin', '--email', srv.admin.email, '--password', h.PASSWORD]);
	assert.notEqual(r.status, 0, 'duplicate platform admin accepted');
	const weak = srv.cli(['admin', 'create-platform-admin', '--email', h.uniqEmail('w'), '--password', 'short']);
	assert.notEqual(weak.status, 0, 'weak platform admin password accepted');
	// the CLI works while the server runs too
	const email = h.uniqEmail('platform2');
	const r2 = srv.cli(['admin', 'create-platform-admin', '--email', email, '--password', h.PASSWORD]);
	assert.equal(r2.status, 0, `create-platform-admin while serving: ${r2.stdout}${r2.stderr}`);
	const l = await h.login(srv, email);
	const me2 = await srv.req('GET', '/v1/auth/me', { token: l.access_token });
	assert.equal(me2.body.role, 'platform_admin');
});

test('create, list, fetch tenants', async () => {
	const t = await newTenant({ name: 'Contoso' });
	assert.match(t.tenant.id, h.ID_RE('AC'));
	assert.equal(t.tenant.name, 'Contoso');
	assert.equal(t.tenant.status, 'active');
	assert.match(t.owner.id, h.ID_RE('US'));
	assert.equal(t.owner.email, t.owner_email);
	assert.equal(t.owner.role, 'owner');
	assert.ok(!JSON.stringify(t).includes(h.PASSWORD));
	const l = await h.login(srv, t.owner_email);
	assert.equal(l.tenant.id, t.tenant.id);

	const list = await h.listAll(srv, '/v1/admin/tenants', { token: srv.adminToken }, 1);
	assert.ok(list.some((x) => x.id === t.tenant.id), 'new tenant not listed');
	assert.equal(new Set(list.map((x) => x.id)).size, list.length, 'paging repeats tenants');
	const g = await admin('GET', `/v1/admin/tenants/${t.tenant.id}`);
	h.expectStatus(g, 200);
	assert.equal(g.body.id, t.tenant.id);
	h.expectError(await admin('GET', `/v1/admin/tenants/AC${'0'.repeat(32)}`), 404, 'not_found');

	h.expectError(await admin('POST', '/v1/admin/tenants', { name: 'x' }), 400, 'missing_field', 'owner_email');
	h.expectError(await admin('POST', '/v1/admin/tenants', { owner_email: h.uniqEmail('x') }), 400, 'missing_field', 'name');
	h.expectError(await admin('POST', '/v1/admin/tenants', { name: 'x', owner_email: t.owner_email }), 409, 'email_taken');
});

test('create without owner_password invites the owner', async () => {
	const t = await newTenant({ password: false });
	assert.equal(t.owner.status, 'invited');
	const { token } = await h.mailToken(srv, t.owner_email, 'invite');
	h.expectStatus(await srv.req('POST', '/v1/auth/password-reset/confirm', { json: { token, new_password: 'owner-invite-pass-7' } }), 204);
	await h.login(srv, t.owner_email, 'owner-invite-pass-7');
});

test('suspend: every key and token of the tenant gets 403 tenant_suspended; resume restores', async () => {
	const t = await newTenant();
	const l = await h.login(srv, t.owner_email);
	const key = await h.createKey(srv, l.access_token, { role: 'admin' });
	const other = await newTenant();
	const otherLogin = await h.login(srv, other.owner_email);

	const s = await admin('POST', `/v1/admin/tenants/${t.tenant.id}/suspend`);
	h.expectStatus(s, 200, 'suspend');
	assert.equal(s.body.status, 'suspended');
	for (const auth of [{ token: key.secret }, { basic: [t.tenant.id, key.secret] }, { token: l.access_token }]) {
		h.expectError(await srv.req('GET', '/v1/tenant', auth), 403, 'tenant_suspended');
		h.expectError(await srv.req('POST', '/v1/api-keys', { ...auth, json: { name: 'during-suspension' } }), 403, 'tenant_suspended');
	}
	h.expectError(await srv.req('POST', '/v1/auth/refresh', { json: { refresh_token: l.refresh_token } }), [401, 403]);
	h.expectError(await srv.req('POST', '/v1/auth/login', { json: { email: t.owner_email, password: h.PASSWORD } }), 403, 'tenant_suspended');
	// wrong password for a suspended tenant must not reveal the suspension
	h.expectError(await srv.req('POST', '/v1/auth/login', { json: { email: t.owner_email, password: 'wrong-password-123' } }), 401, 'invalid_credentials');
	// other tenants are unaffected
	h.expectStatus(await srv.req('GET', '/v1/tenant', { token: otherLogin.access_token }), 200);
	const g = await admin('GET', `/v1/admin/tenants/${t.tenant.id}`);
	assert.equal(g.body.status, 'suspended');

	const r = await admin('POST', `/v1/admin/tenants/${t.tenant.id}/resume`);
	h.expectStatus(r, 200, 'resume');
	assert.equal(r.body.status, 'active');
	h.expectStatus(await srv.req('GET', '/v1/tenant', { token: key.secret }), 200, 'key after resume');
	await h.login(srv, t.owner_email);
	h.expectError(await admin('POST', `/v1/admin/tenants/AC${'0'.repeat(32)}/suspend`), 404, 'not_found');
});

test('delete: 204, then its keys get 401 and it is gone', async () => {
	const t = await newTenant();
	const l = await h.login(srv, t.owner_email);
	const key = await h.createKey(srv, l.access_token);
	const d = await admin('DELETE', `/v1/admin/tenants/${t.tenant.id}`);
	h.expectStatus(d, 204, 'delete tenant');
	h.expectError(await srv.req('GET', '/v1/tenant', { token: key.secret }), 401);
	h.expectError(await srv.req('GET', '/v1/tenant', { basic: [t.tenant.id, key.secret] }), 401);
	h.expectError(await srv.req('GET', '/v1/tenant', { token: l.access_token }), 401);
	h.expectError(await srv.req('POST', '/v1/auth/login', { json: { email: t.owner_email, password: h.PASSWORD } }), 401, 'invalid_credentials');
	h.expectError(await admin('GET', `/v1/admin/tenants/${t.tenant.id}`), 404, 'not_found');
	h.expectError(await admin('DELETE', `/v1/admin/tenants/${t.tenant.id}`), 404, 'not_found');
	const list = await h.listAll(srv, '/v1/admin/tenants', { token: srv.adminToken });
	assert.ok(!list.some((x) => x.id === t.tenant.id), 'deleted tenant still listed');
	// the e-mail is free again
	const again = await srv.req('POST', '/v1/auth/register', { json: { email: t.owner_email, password: h.PASSWORD, name: 'Reborn' } });
	h.expectStatus(again, 201, 'register with a deleted tenant\'s e-mail');
	// the platform tenant cannot be deleted or suspended from under the admin
	const me = await srv.req('GET', '/v1/auth/me', { token: srv.adminToken });
	const own = me.body.tenant && me.body.tenant.id;
	if (own) {
		const s = await admin('POST', `/v1/admin/tenants/${own}/suspend`);
		assert.ok([400, 403, 404, 409].includes(s.status), `suspending the platform tenant: ${h.describeRes(s)}`);
	}
});

test('limits: GET effective values, PUT sets them, validation', async () => {
	const t = await newTenant();
	const g = await admin('GET', `/v1/admin/tenants/${t.tenant.id}/limits`);
	h.expectStatus(g, 200);
	for (const k of ['tenant_rps', 'tenant_burst', 'key_rps', 'key_burst'])
		assert.ok(Number.isInteger(g.body[k]) && g.body[k] > 0, `limits.${k}: ${g.text}`);
	const want = { tenant_rps: 50, tenant_burst: 60, key_rps: 5, key_burst: 7 };
	const p = await admin('PUT', `/v1/admin/tenants/${t.tenant.id}/limits`, want);
	h.expectStatus(p, 200);
	for (const [k, v] of Object.entries(want))
		assert.equal(p.body[k], v, `PUT answer ${k}`);
	const g2 = await admin('GET', `/v1/admin/tenants/${t.tenant.id}/limits`);
	for (const [k, v] of Object.entries(want))
		assert.equal(g2.body[k], v, `GET after PUT ${k}`);
	h.expectError(await admin('PUT', `/v1/admin/tenants/${t.tenant.id}/limits`, { ...want, key_rps: 'fast' }), 400, 'invalid_type', 'key_rps');
	h.expectError(await admin('PUT', `/v1/admin/tenants/${t.tenant.id}/limits`, { ...want, key_rps: 1.5 }), 400, 'invalid_type', 'key_rps');
	h.expectError(await admin('PUT', `/v1/admin/tenants/${t.tenant.id}/limits`, { ...want, key_burst: -5 }), 400, undefined, 'key_burst');
	h.expectError(await admin('PUT', `/v1/admin/tenants/${t.tenant.id}/limits`, { ...want, key_burst: 10000001 }), 400, undefined, 'key_burst');
	h.expectError(await admin('PUT', `/v1/admin/tenants/${t.tenant.id}/limits`, { ...want, speed: 1 }), 400, 'unknown_field', 'speed');
	// 0 (or absent) means "the configured default" (LimitsUpdate in the OpenAPI document)
	const dflt = await admin('PUT', `/v1/admin/tenants/${t.tenant.id}/limits`, { ...want, key_burst: 0 });
	h.expectStatus(dflt, 200);
	assert.equal(dflt.body.key_burst, g.body.key_burst, 'key_burst 0 did not fall back to the default');
	h.expectStatus(await admin('PUT', `/v1/admin/tenants/${t.tenant.id}/limits`, want), 200);
	h.expectError(await admin('PUT', `/v1/admin/tenants/AC${'0'.repeat(32)}/limits`, want), 404, 'not_found');
	// the tenant's own responses now advertise the new limit
	const l = await h.login(srv, t.owner_email);
	const r = await srv.req('GET', '/v1/tenant', { token: l.access_token });
	h.expectStatus(r, 200);
	assert.equal(r.h('ratelimit-limit'), '7', `RateLimit-Limit after PUT limits: ${r.h('ratelimit-limit')}`);
});

test('tenant owners cannot use admin routes', async () => {
	const t = await newTenant();
	const l = await h.login(srv, t.owner_email);
	for (const [m, p] of [
		['GET', '/v1/admin/tenants'],
		['GET', `/v1/admin/tenants/${t.tenant.id}`],
		['POST', `/v1/admin/tenants/${t.tenant.id}/resume`],
		['DELETE', `/v1/admin/tenants/${t.tenant.id}`],
		['PUT', `/v1/admin/tenants/${t.tenant.id}/limits`],
	])
		h.expectError(await srv.req(m, p, { token: l.access_token, json: m === 'PUT' ? { tenant_rps: 1, tenant_burst: 1, key_rps: 1, key_burst: 1 } : undefined }), 403, 'forbidden');
});
