// 02: register, login, refresh rotation and reuse detection, logout, me, change password,
// password reset through the outbox, e-mail verification.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

let srv;
before(async () => {
	srv = await h.startServer({ tag: 'auth', admin: true });
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

const me = (token) => srv.req('GET', '/v1/auth/me', { token });
const refresh = (refresh_token) => srv.req('POST', '/v1/auth/refresh', { json: { refresh_token } });

function checkTokens(b, what) {
	assert.equal(typeof b.access_token, 'string', `${what}: access_token`);
	assert.equal(b.access_token.split('.').length, 3, `${what}: access_token is not a JWT`);
	assert.equal(typeof b.refresh_token, 'string', `${what}: refresh_token`);
	assert.ok(b.refresh_token.length >= 32, `${what}: refresh_token too short`);
	assert.equal(b.token_type, 'Bearer');
	assert.equal(typeof b.expires_in, 'number');
	assert.ok(b.expires_in > 0 && b.expires_in <= 900, `${what}: expires_in ${b.expires_in}`);
}

test('register creates a tenant and its owner', async () => {
	const email = h.uniqEmail('reg');
	const r = await srv.req('POST', '/v1/auth/register', {
		json: { email, password: h.PASSWORD, name: 'Acme Telecom', full_name: 'Ada Owner' },
	});
	h.expectStatus(r, 201);
	const b = r.body;
	checkTokens(b, 'register');
	assert.match(b.tenant.id, h.ID_RE('AC'));
	assert.equal(b.tenant.name, 'Acme Telecom');
	assert.equal(b.tenant.status, 'active');
	assert.match(b.tenant.created_at, h.RFC3339_RE);
	assert.match(b.user.id, h.ID_RE('US'));
	assert.equal(b.user.email, email);
	assert.equal(b.user.role, 'owner');
	assert.equal(b.user.email_verified, false);
	assert.match(b.user.created_at, h.RFC3339_RE);
	assert.ok(!('password' in b.user) && !('password_hash' in b.user), 'user exposes its password hash');
	assert.ok(!JSON.stringify(b).includes(h.PASSWORD), 'response echoes the password');

	const m = await me(b.access_token);
	h.expectStatus(m, 200, 'me');
	assert.equal(m.body.user.id, b.user.id);
	assert.equal(m.body.tenant.id, b.tenant.id);
	assert.equal(m.body.role, 'owner');

	// the same e-mail again, in another case
	const dup = await srv.req('POST', '/v1/auth/register', { json: { email, password: h.PASSWORD, name: 'x' } });
	h.expectError(dup, 409, 'email_taken');
	const dup2 = await srv.req('POST', '/v1/auth/register', {
		json: { email: email.toUpperCase(), password: h.PASSWORD, name: 'x' },
	});
	h.expectError(dup2, 409, 'email_taken');
});

test('register validates its input', async () => {
	const weak = await srv.req('POST', '/v1/auth/register', {
		json: { email: h.uniqEmail('weak'), password: '123456789', name: 'x' },
	});
	h.expectError(weak, 400, undefined, 'password');
	const bad = await srv.req('POST', '/v1/auth/register', {
		json: { email: 'not-an-email', password: h.PASSWORD, name: 'x' },
	});
	h.expectError(bad, 400, undefined, 'email');
	const noName = await srv.req('POST', '/v1/auth/register', { json: { email: h.uniqEmail('n'), password: h.PASSWORD } });
	h.expectError(noName, 400, 'missing_field', 'name');
});

test('login: success, wrong password and unknown e-mail answer alike', async () => {
	const t = await h.registerTenant(srv);
	const ok = await srv.req('POST', '/v1/auth/login', { json: { email: t.email, password: t.password } });
	h.expectStatus(ok, 200);
	checkTokens(ok.body, 'login');
	assert.equal(ok.body.user.id, t.userId);
	assert.equal(ok.body.tenant.id, t.tenantId);
	assert.notEqual(ok.body.refresh_token, t.refresh);

	const wrong = await srv.req('POST', '/v1/auth/login', { json: { email: t.email, password: 'wrong-password-123' } });
	const e1 = h.expectError(wrong, 401, 'invalid_credentials');
	const unknown = await srv.req('POST', '/v1/auth/login', {
		json: { email: h.uniqEmail('ghost'), password: 'wrong-password-123' },
	});
	const e2 = h.expectError(unknown, 401, 'invalid_credentials');
	assert.equal(e1.message, e2.message, 'unknown and known e-mails must get the same message');
	// e-mail is case-insensitive
	const upper = await srv.req('POST', '/v1/auth/login', { json: { email: t.email.toUpperCase(), password: t.password } });
	h.expectStatus(upper, 200, 'login with upper-case e-mail');
});

test('me requires a token', async () => {
	const r = await srv.req('GET', '/v1/auth/me');
	h.expectError(r, 401);
	assert.ok(r.h('www-authenticate'), '401 without WWW-Authenticate');
	const g = await srv.req('GET', '/v1/auth/me', { token: 'garbage' });
	h.expectError(g, 401);
});

test('refresh rotates; reusing a rotated token revokes the whole family', async () => {
	const t = await h.registerTenant(srv);
	const r1 = await refresh(t.refresh);
	h.expectStatus(r1, 200, 'first refresh');
	checkTokens(r1.body, 'refresh');
	assert.notEqual(r1.body.refresh_token, t.refresh, 'refresh token not rotated');
	h.expectStatus(await me(r1.body.access_token), 200, 'new access token');

	const r2 = await refresh(r1.body.refresh_token);
	h.expectStatus(r2, 200, 'second refresh');
	const newest = r2.body;
	h.expectStatus(await me(newest.access_token), 200);

	// replay the first (already rotated) refresh token
	const reuse = await refresh(t.refresh);
	h.expectError(reuse, 401, 'refresh_reused');
	// the family is gone: the newest refresh and access tokens stop working
	h.expectError(await refresh(newest.refresh_token), 401);
	h.expectError(await me(newest.access_token), 401);
	h.expectError(await me(r1.body.access_token), 401);
	h.expectError(await me(t.token), 401);

	// a different session of the same user is not affected
	const other = await h.login(srv, t.email);
	h.expectStatus(await me(other.access_token), 200, 'another session after family revocation');
	// garbage refresh tokens
	h.expectError(await refresh('x'.repeat(43)), 401);
	h.expectError(await srv.req('POST', '/v1/auth/refresh', { json: {} }), 400, 'missing_field', 'refresh_token');
});

test('logout ends the session: its access and refresh tokens stop working', async () => {
	const t = await h.registerTenant(srv);
	const second = await h.login(srv, t.email);
	const r = await srv.req('POST', '/v1/auth/logout', { token: t.token });
	h.expectStatus(r, 204, 'logout');
	assert.equal(r.text, '');
	h.expectError(await me(t.token), 401);
	h.expectError(await refresh(t.refresh), 401);
	// logout of one session leaves the other
	h.expectStatus(await me(second.access_token), 200);
	// logout needs a token
	h.expectError(await srv.req('POST', '/v1/auth/logout'), 401);
});

test('change password: other sessions revoked, old password refused, new accepted', async () => {
	const t = await h.registerTenant(srv);
	const other = await h.login(srv, t.email);
	const newPw = 'another-long-password-2';

	const wrong = await srv.req('POST', '/v1/auth/change-password', {
		token: t.token,
		json: { current_password: 'not-my-password-1', new_password: newPw },
	});
	h.expectError(wrong, [401, 403], 'invalid_credentials');
	const weak = await srv.req('POST', '/v1/auth/change-password', {
		token: t.token,
		json: { current_password: t.password, new_password: 'short' },
	});
	h.expectError(weak, 400, undefined, 'new_password');

	const ok = await srv.req('POST', '/v1/auth/change-password', {
		token: t.token,
		json: { current_password: t.password, new_password: newPw },
	});
	h.expectStatus(ok, 204, 'change-password');
	h.expectStatus(await me(t.token), 200, 'the session that changed the password stays');
	h.expectError(await me(other.access_token), 401);
	h.expectError(await refresh(other.refresh_token), 401);
	h.expectError(
		await srv.req('POST', '/v1/auth/login', { json: { email: t.email, password: t.password } }),
		401,
		'invalid_credentials'
	);
	await h.login(srv, t.email, newPw);
});

test('password reset: request (always 202), mail in the outbox, confirm once', async () => {
	const t = await h.registerTenant(srv);
	const other = await h.login(srv, t.email);
	const r = await srv.req('POST', '/v1/auth/password-reset/request', { json: { email: t.email } });
	h.expectStatus(r, 202);
	const ghost = await srv.req('POST', '/v1/auth/password-reset/request', { json: { email: h.uniqEmail('ghost') } });
	h.expectStatus(ghost, 202, 'reset request for an unknown e-mail');
	assert.equal(ghost.text, r.text, 'known and unknown e-mails must get the same answer');

	const { token, mail } = await h.mailToken(srv, t.email, 'password_reset');
	assert.match(mail.id, /^[A-Z]{2}[0-9a-f]{32}$/);
	assert.equal(mail.tenant_id, t.tenantId);
	assert.ok(mail.subject && mail.body, 'mail subject and body');
	assert.ok(token.length >= 32, `reset token too short: ${token}`);

	h.expectError(
		await srv.req('POST', '/v1/auth/password-reset/confirm', { json: { token: 'A'.repeat(43), new_password: 'whatever-long-1' } }),
		400,
		'invalid_token'
	);
	const newPw = 'reset-long-password-3';
	const weak = await srv.req('POST', '/v1/auth/password-reset/confirm', { json: { token, new_password: 'short' } });
	h.expectError(weak, 400, undefined, 'new_password');
	const c = await srv.req('POST', '/v1/auth/password-reset/confirm', { json: { token, new_password: newPw } });
	h.expectStatus(c, 204, 'reset confirm');
	const again = await srv.req('POST', '/v1/auth/password-reset/confirm', { json: { token, new_password: 'yet-another-pass-4' } });
	h.expectError(again, 400, 'invalid_token');

	h.expectError(
		await srv.req('POST', '/v1/auth/login', { json: { email: t.email, password: t.password } }),
		401,
		'invalid_credentials'
	);
	await h.login(srv, t.email, newPw);
	// every earlier session is gone
	h.expectError(await me(t.token), 401);
	h.expectError(await me(other.access_token), 401);
	h.expectError(await refresh(other.refresh_token), 401);
});

test('verify e-mail: register queues a mail; its token verifies once', async () => {
	const t = await h.registerTenant(srv);
	const before = await me(t.token);
	assert.equal(before.body.user.email_verified, false);
	const { token } = await h.mailToken(srv, t.email, 'verify_email');
	h.expectError(await srv.req('POST', '/v1/auth/verify-email', { json: { token: 'B'.repeat(43) } }), 400, 'invalid_token');
	const v = await srv.req('POST', '/v1/auth/verify-email', { json: { token } });
	h.expectStatus(v, 204, 'verify-email');
	const after = await me(t.token);
	assert.equal(after.body.user.email_verified, true);
	h.expectError(await srv.req('POST', '/v1/auth/verify-email', { json: { token } }), 400, 'invalid_token');

	// a reset token is not a verification token (and the reverse)
	const t2 = await h.registerTenant(srv);
	h.expectStatus(await srv.req('POST', '/v1/auth/password-reset/request', { json: { email: t2.email } }), 202);
	const reset = await h.mailToken(srv, t2.email, 'password_reset');
	h.expectError(await srv.req('POST', '/v1/auth/verify-email', { json: { token: reset.token } }), 400, 'invalid_token');
	const verify = await h.mailToken(srv, t2.email, 'verify_email');
	h.expectError(
		await srv.req('POST', '/v1/auth/password-reset/confirm', { json: { token: verify.token, new_password: 'mixup-password-55' } }),
		400,
		'invalid_token'
	);
});

test('the outbox is for platform admins only', async () => {
	const t = await h.registerTenant(srv);
	h.expectError(await srv.req('GET', '/v1/admin/email-outbox', { token: t.token }), 403, 'forbidden');
	h.expectError(await srv.req('GET', '/v1/admin/email-outbox'), 401);
});
