// 06: tenant users: create with a password, invite (mail + token), list with paging, fetch,
// change role and name, disable (tokens stop, login refused).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv, owner;
before(async () => {
	srv = await h.startServer({ tag: 'users', admin: true });
	owner = await h.registerTenant(srv, { tag: 'users' });
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

const asOwner = (m, p, json) => srv.req(m, p, { token: owner.token, json });

test('create with a password: active, can log in with its role', async () => {
	const email = h.uniqEmail('dev');
	const r = await asOwner('POST', '/v1/users', { email, role: 'developer', name: 'Dev One', password: h.PASSWORD });
	h.expectStatus(r, 201);
	const u = r.body;
	assert.match(u.id, h.ID_RE('US'));
	assert.equal(u.email, email);
	assert.equal(u.role, 'developer');
	assert.equal(u.name, 'Dev One');
	assert.equal(u.status, 'active');
	assert.equal(u.tenant_id, owner.tenantId);
	assert.match(u.created_at, h.RFC3339_RE);
	assert.ok(!r.text.includes(h.PASSWORD) && !('password_hash' in u), 'password or hash in the response');
	const l = await h.login(srv, email);
	assert.equal(l.user.id, u.id);
	assert.equal(l.tenant.id, owner.tenantId);
	const me = await srv.req('GET', '/v1/auth/me', { token: l.access_token });
	assert.equal(me.body.role, 'developer');
});

test('invite without a password: status invited, invite mail, token sets the password', async () => {
	const email = h.uniqEmail('inv');
	const r = await asOwner('POST', '/v1/users', { email, role: 'viewer' });
	h.expectStatus(r, 201);
	assert.equal(r.body.status, 'invited');
	// an invited user cannot log in yet (whatever password)
	h.expectError(await srv.req('POST', '/v1/auth/login', { json: { email, password: h.PASSWORD } }), 401, 'invalid_credentials');
	const { token, mail } = await h.mailToken(srv, email, 'invite');
	assert.equal(mail.tenant_id, owner.tenantId);
	const pw = 'invited-user-password-9';
	h.expectStatus(await srv.req('POST', '/v1/auth/password-reset/confirm', { json: { token, new_password: pw } }), 204, 'accept invite');
	const l = await h.login(srv, email, pw);
	assert.equal(l.user.id, r.body.id);
	const after = await asOwner('GET', `/v1/users/${r.body.id}`);
	assert.equal(after.body.status, 'active', 'accepted invite is active');
});

test('create validates input; duplicate e-mail (any tenant) is 409', async () => {
	h.expectError(await asOwner('POST', '/v1/users', { role: 'viewer' }), 400, 'missing_field', 'email');
	h.expectError(await asOwner('POST', '/v1/users', { email: h.uniqEmail('x') }), 400, 'missing_field', 'role');
	h.expectError(await asOwner('POST', '/v1/users', { email: h.uniqEmail('x'), role: 'wizard' }), 400, undefined, 'role');
	h.expectError(await asOwner('POST', '/v1/users', { email: h.uniqEmail('x'), role: 'platform_admin' }), [400, 403]);
	h.expectError(await asOwner('POST', '/v1/users', { email: 'nope', role: 'viewer' }), 400, undefined, 'email');
	h.expectError(await asOwner('POST', '/v1/users', { email: h.uniqEmail('x'), role: 'viewer', password: 'short' }), 400, undefined, 'password');
	h.expectError(await asOwner('POST', '/v1/users', { email: h.uniqEmail('x'), role: 'viewer', tenant_id: 'AC' + '0'.repeat(32) }), 400, 'unknown_field', 'tenant_id');
	h.expectError(await asOwner('POST', '/v1/users', { email: owner.email, role: 'viewer' }), 409, 'email_taken');
	const other = await h.registerTenant(srv);
	h.expectError(await asOwner('POST', '/v1/users', { email: other.email, role: 'viewer' }), 409, 'email_taken');
});

test('list with limit and cursor walks every user exactly once', async () => {
	const made = [];
	for (let i = 0; i < 5; i++) {
		const r = await asOwner('POST', '/v1/users', { email: h.uniqEmail(`page${i}`), role: 'viewer', password: h.PASSWORD });
		h.expectStatus(r, 201);
		made.push(r.body.id);
	}
	const all = await h.listAll(srv, '/v1/users', { token: owner.token }, 2);
	const ids = all.map((u) => u.id);
	assert.equal(new Set(ids).size, ids.length, 'paging returned a user twice');
	for (const id of [owner.userId, ...made])
		assert.ok(ids.includes(id), `user ${id} missing from the paged list`);
	for (const u of all) {
		assert.equal(u.tenant_id, owner.tenantId);
		assert.ok(!('password_hash' in u));
	}
	const p1 = await asOwner('GET', '/v1/users?limit=2');
	h.expectStatus(p1, 200);
	assert.equal(p1.body.data.length, 2);
	assert.match(p1.body.next_cursor, /^US[0-9a-f]{32}$/);
	const full = await asOwner('GET', '/v1/users?limit=200');
	assert.equal(full.body.next_cursor, null, 'last page must have next_cursor null');
	for (const bad of ['limit=0', 'limit=201', 'limit=abc', 'limit=-1', 'cursor=zzz'])
		h.expectError(await asOwner('GET', `/v1/users?${bad}`), 400, undefined);
});

test('fetch, change role and name; unknown fields and bad values refused', async () => {
	const email = h.uniqEmail('chg');
	const c = await asOwner('POST', '/v1/users', { email, role: 'viewer', password: h.PASSWORD });
	const id = c.body.id;
	const g = await asOwner('GET', `/v1/users/${id}`);
	h.expectStatus(g, 200);
	assert.equal(g.body.email, email);
	const p = await asOwner('PATCH', `/v1/users/${id}`, { role: 'admin', name: 'Promoted' });
	h.expectStatus(p, 200);
	assert.equal(p.body.role, 'admin');
	assert.equal(p.body.name, 'Promoted');
	const g2 = await asOwner('GET', `/v1/users/${id}`);
	assert.equal(g2.body.role, 'admin');
	// the new role applies to a fresh login
	const l = await h.login(srv, email);
	h.expectStatus(await srv.req('GET', '/v1/users', { token: l.access_token }), 200, 'promoted user lists users');
	h.expectError(await asOwner('PATCH', `/v1/users/${id}`, { role: 'emperor' }), 400, undefined, 'role');
	h.expectError(await asOwner('PATCH', `/v1/users/${id}`, { disabled: 'yes' }), 400, 'invalid_type', 'disabled');
	h.expectError(await asOwner('PATCH', `/v1/users/${id}`, { email: 'new@e2e.example.com' }), 400, 'unknown_field', 'email');
	h.expectError(await asOwner('GET', `/v1/users/US${'0'.repeat(32)}`), 404, 'not_found');
	h.expectError(await asOwner('PATCH', `/v1/users/US${'0'.repeat(32)}`, { name: 'x' }), 404, 'not_found');
});

test('disable: the user\'s tokens stop working and it cannot log in; re-enable restores login', async () => {
	const email = h.uniqEmail('dis');
	const c = await asOwner('POST', '/v1/users', { email, role: 'admin', password: h.PASSWORD });
	const id = c.body.id;
	const l = await h.login(srv, email);
	h.expectStatus(await srv.req('GET', '/v1/auth/me', { token: l.access_token }), 200);
	const d = await asOwner('PATCH', `/v1/users/${id}`, { disabled: true });
	h.expectStatus(d, 200);
	assert.equal(d.body.status, 'disabled');
	h.expectError(await srv.req('GET', '/v1/auth/me', { token: l.access_token }), 401);
	h.expectError(await srv.req('POST', '/v1/auth/refresh', { json: { refresh_token: l.refresh_token } }), 401);
	const li = await srv.req('POST', '/v1/auth/login', { json: { email, password: h.PASSWORD } });
	h.expectError(li, [401, 403]);
	const e = await asOwner('PATCH', `/v1/users/${id}`, { disabled: false });
	h.expectStatus(e, 200);
	assert.equal(e.body.status, 'active');
	await h.login(srv, email);
});

test('nobody disables themselves, changes their own role, or removes the last owner', async () => {
	const self = await asOwner('PATCH', `/v1/users/${owner.userId}`, { disabled: true });
	h.expectError(self, [400, 403, 409]);
	const demote = await asOwner('PATCH', `/v1/users/${owner.userId}`, { role: 'admin' });
	h.expectError(demote, [400, 403, 409]);
	const email = h.uniqEmail('selfadm');
	h.expectStatus(await asOwner('POST', '/v1/users', { email, role: 'admin', password: h.PASSWORD }), 201);
	const adm = await h.login(srv, email);
	const up = await srv.req('PATCH', `/v1/users/${adm.user.id}`, { token: adm.access_token, json: { role: 'owner' } });
	h.expectError(up, [400, 403, 409]);
	h.expectStatus(await srv.req('GET', '/v1/auth/me', { token: owner.token }), 200, 'owner still active');
});
