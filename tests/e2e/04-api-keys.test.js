// 04: API keys: create (secret once), list (prefix only), fetch, revoke; Bearer and HTTP
// Basic (AccountSid or key sid as the user); the real twilio SDK's RequestClient.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const twilio = require('twilio');
const h = require('./lib/harness');

let srv, a, b;
before(async () => {
	srv = await h.startServer({ tag: 'keys' });
	a = await h.registerTenant(srv, { tag: 'keys-a' });
	b = await h.registerTenant(srv, { tag: 'keys-b' });
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

const tenant = (o) => srv.req('GET', '/v1/tenant', o);

test('create: secret shown once with a recognisable prefix; list and fetch never show it', async () => {
	const r = await srv.req('POST', '/v1/api-keys', { token: a.token, json: { name: 'ci deploy' } });
	h.expectStatus(r, 201);
	const k = r.body;
	assert.match(k.id, h.ID_RE('KE'));
	assert.equal(k.name, 'ci deploy');
	assert.equal(k.role, 'developer', 'default role');
	assert.match(k.created_at, h.RFC3339_RE);
	assert.match(k.secret, /^irx_live_[A-Za-z0-9_]{30,}$/);
	assert.equal(typeof k.prefix, 'string');
	assert.ok(k.prefix.length >= 8 && k.secret.startsWith(k.prefix), `prefix ${k.prefix} is not the start of the secret`);
	assert.ok(k.prefix.length < k.secret.length - 20, 'prefix reveals most of the secret');
	assert.ok(!('hash' in k), 'key exposes its hash');
	// two keys never share a secret
	const k2 = await h.createKey(srv, a.token);
	assert.notEqual(k2.secret, k.secret);

	const list = await srv.req('GET', '/v1/api-keys', { token: a.token });
	h.expectStatus(list, 200);
	assert.ok(Array.isArray(list.body.data));
	assert.ok('next_cursor' in list.body, 'list has no next_cursor');
	const row = list.body.data.find((x) => x.id === k.id);
	assert.ok(row, 'new key not in the list');
	assert.equal(row.prefix, k.prefix);
	assert.ok(!('secret' in row) && !('hash' in row), 'list shows secret or hash');
	assert.ok(!list.text.includes(k.secret) && !list.text.includes(k2.secret), 'list leaks a secret');

	const one = await srv.req('GET', `/v1/api-keys/${k.id}`, { token: a.token });
	h.expectStatus(one, 200);
	assert.equal(one.body.id, k.id);
	assert.equal(one.body.name, 'ci deploy');
	assert.ok(!one.text.includes(k.secret), 'fetch leaks the secret');
	h.expectError(await srv.req('GET', `/v1/api-keys/KE${'0'.repeat(32)}`, { token: a.token }), 404, 'not_found');
	h.expectError(await srv.req('GET', '/v1/api-keys/not-an-id', { token: a.token }), 404, 'not_found');
});

test('create validates name and role', async () => {
	h.expectError(await srv.req('POST', '/v1/api-keys', { token: a.token, json: { name: 'x', role: 'god' } }), 400, undefined, 'role');
	h.expectError(await srv.req('POST', '/v1/api-keys', { token: a.token, json: { name: 'x', role: 'platform_admin' } }), [400, 403]);
	h.expectError(await srv.req('POST', '/v1/api-keys', { token: a.token, json: { name: 7 } }), 400, 'invalid_type', 'name');
	h.expectError(await srv.req('POST', '/v1/api-keys', { token: a.token, json: { name: 'n'.repeat(201) } }), 400, undefined, 'name');
	h.expectError(await srv.req('POST', '/v1/api-keys', { token: a.token, json: { name: 'x', role: 7 } }), 400, 'invalid_type', 'role');
	for (const role of ['viewer', 'agent', 'developer', 'admin', 'owner']) {
		const k = await h.createKey(srv, a.token, { role });
		assert.equal(k.role, role);
	}
});

test('a key authenticates as Bearer and as Basic with the AccountSid or the key sid', async () => {
	const k = await h.createKey(srv, a.token, { role: 'viewer' });
	const bearer = await tenant({ token: k.secret });
	h.expectStatus(bearer, 200, 'Bearer key');
	assert.equal(bearer.body.id, a.tenantId);
	h.expectStatus(await tenant({ basic: [a.tenantId, k.secret] }), 200, 'Basic AC:secret');
	h.expectStatus(await tenant({ basic: [k.id, k.secret] }), 200, 'Basic KE:secret');

	const me = await srv.req('GET', '/v1/auth/me', { token: k.secret });
	h.expectStatus(me, 200);
	assert.equal(me.body.api_key.id, k.id);
	assert.equal(me.body.role, 'viewer');
	assert.equal(me.body.tenant.id, a.tenantId);
	assert.ok(!me.text.includes(k.secret));

	// wrong pairings
	h.expectError(await tenant({ basic: [b.tenantId, k.secret] }), 401);
	const kb = await h.createKey(srv, b.token);
	h.expectError(await tenant({ basic: [kb.id, k.secret] }), 401);
	h.expectError(await tenant({ basic: [a.tenantId, kb.secret] }), 401);
	h.expectError(await tenant({ basic: [a.tenantId, k.secret + 'x'] }), 401);
	h.expectError(await tenant({ basic: [a.tenantId, ''] }), 401);
	h.expectError(await tenant({ basic: ['', k.secret] }), 401);
	h.expectError(await tenant({ basic: ['US' + '0'.repeat(32), k.secret] }), 401);
	// a tampered secret (one character changed) and a truncated one
	const last = k.secret.at(-1) === 'A' ? 'B' : 'A';
	h.expectError(await tenant({ token: k.secret.slice(0, -1) + last }), 401);
	h.expectError(await tenant({ token: k.secret.slice(0, -1) }), 401);
	h.expectError(await tenant({ token: k.prefix }), 401);
});

test('revoke: 204, then the key gets 401 in every form', async () => {
	const k = await h.createKey(srv, a.token);
	h.expectStatus(await tenant({ token: k.secret }), 200);
	const d = await srv.req('DELETE', `/v1/api-keys/${k.id}`, { token: a.token });
	h.expectStatus(d, 204, 'revoke');
	h.expectError(await tenant({ token: k.secret }), 401);
	h.expectError(await tenant({ basic: [a.tenantId, k.secret] }), 401);
	h.expectError(await tenant({ basic: [k.id, k.secret] }), 401);
	const again = await srv.req('DELETE', `/v1/api-keys/${k.id}`, { token: a.token });
	assert.ok([204, 404].includes(again.status), `second revoke: ${h.describeRes(again)}`);
	h.expectError(await srv.req('DELETE', `/v1/api-keys/KE${'0'.repeat(32)}`, { token: a.token }), 404, 'not_found');
});

test('a key can revoke itself and then stops working', async () => {
	const k = await h.createKey(srv, a.token, { role: 'admin' });
	h.expectStatus(await srv.req('DELETE', `/v1/api-keys/${k.id}`, { token: k.secret }), 204);
	h.expectError(await tenant({ token: k.secret }), 401);
});

class LocalClient extends twilio.RequestClient {
	constructor(origin) {
		super();
		this.origin = origin;
	}
	request(opts) {
		const u = new URL(opts.uri);
		return super.request({ ...opts, uri: this.origin + u.pathname + u.search });
	}
}

// RequestClient only sends the Authorization it builds when the caller passes a headers
// object (BaseTwilio.request always does), so the direct calls below pass one too.
test('the twilio SDK RequestClient authenticates with AccountSid + key secret', async () => {
	const k = await h.createKey(srv, a.token, { role: 'viewer' });
	const rc = new LocalClient(srv.url);
	const r = await rc.request({ method: 'GET', uri: 'https://api.twilio.com/v1/tenant', username: a.tenantId, password: k.secret, headers: {} });
	assert.equal(r.statusCode, 200, `twilio RequestClient: ${r.statusCode} ${JSON.stringify(r.body)}`);
	const body = typeof r.body === 'string' ? JSON.parse(r.body) : r.body;
	assert.equal(body.id, a.tenantId);
	// direct uri with the origin too
	const r2 = await new twilio.RequestClient().request({ method: 'GET', uri: `${srv.url}/v1/tenant`, username: a.tenantId, password: k.secret, headers: {} });
	assert.equal(r2.statusCode, 200);
	const bad = await rc.request({ method: 'GET', uri: 'https://api.twilio.com/v1/tenant', username: a.tenantId, password: 'irx_live_wrong', headers: {} });
	assert.equal(bad.statusCode, 401);
	// a full twilio client with the AccountSid and the key as auth token, pointed at us
	const client = twilio(a.tenantId, k.secret, { httpClient: rc });
	const res = await client.request({ method: 'GET', uri: 'https://api.twilio.com/v1/tenant' });
	assert.equal(res.statusCode, 200);
});
