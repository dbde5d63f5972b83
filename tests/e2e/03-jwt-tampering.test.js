// 03: access-token tampering (RFC 8725): alg none, altered payload, wrong key, unknown kid,
// expired, not yet valid, wrong audience and issuer. Forged tokens are signed with the
// server's real key (read from its SQLite database), and a correctly forged control token
// must be accepted, so every rejection is due to the one thing changed.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('./lib/harness');

let srv, t, tok, realKey, kid;
before(async () => {
	srv = await h.startServer({ tag: 'jwt' });
	t = await h.registerTenant(srv);
	tok = h.jwtDecode(t.token);
	kid = tok.header.kid;
	const rows = h.sqlite(srv.dbPath, 'SELECT kid, secret FROM jwt_keys', { json: true });
	const row = rows.find((r) => r.kid === kid);
	assert.ok(row, `kid ${kid} not found in jwt_keys`);
	realKey = Buffer.from(row.secret, 'hex');
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

const me = (token) => srv.req('GET', '/v1/auth/me', { token });
const now = () => Math.floor(Date.now() / 1000);
const forge = (payloadChanges, headerChanges = {}, key = realKey) =>
	h.jwtSign({ ...tok.header, ...headerChanges }, { ...tok.payload, ...payloadChanges }, key);

test('the issued token has the expected shape', () => {
	assert.equal(tok.header.alg, 'HS256');
	assert.equal(tok.header.typ, 'JWT');
	assert.ok(kid, 'kid missing');
	const p = tok.payload;
	assert.equal(p.sub, t.userId);
	for (const c of ['iss', 'aud', 'exp', 'nbf', 'iat'])
		assert.ok(p[c] !== undefined, `claim ${c} missing`);
	assert.ok(p.exp - p.iat <= 900 && p.exp > now(), 'exp not within 15 minutes');
});

test('control: the real token and a re-signed copy are accepted', async () => {
	h.expectStatus(await me(t.token), 200, 'real token');
	h.expectStatus(await me(forge({})), 200, 're-signed identical token (forging works)');
	h.expectStatus(await me(forge({ nbf: now() + 10 })), 200, 'nbf 10 s ahead is within the 30 s leeway');
});

test('alg "none" with the real kid and an empty signature: 401', async () => {
	for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
		const bad = `${h.jsonSeg({ alg, typ: 'JWT', kid })}.${tok.parts[1]}.`;
		h.expectError(await me(bad), 401, undefined, undefined);
		// also with the original signature left in place
		const bad2 = `${h.jsonSeg({ alg, typ: 'JWT', kid })}.${tok.parts[1]}.${tok.parts[2]}`;
		h.expectError(await me(bad2), 401);
	}
	h.expectError(await me(`${h.jsonSeg({ alg: 'none' })}.${tok.parts[1]}.`), 401);
});

test('other algorithms are refused even when correctly signed for them', async () => {
	const hs512 = (() => {
		const input = `${h.jsonSeg({ alg: 'HS512', typ: 'JWT', kid })}.${tok.parts[1]}`;
		return `${input}.${h.b64u(crypto.createHmac('sha512', realKey).update(input).digest())}`;
	})();
	h.expectError(await me(hs512), 401);
	// HS256 keyed with an RSA public key (algorithm confusion) or with the kid itself
	const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
	const pem = publicKey.export({ type: 'spki', format: 'pem' });
	h.expectError(await me(forge({}, { alg: 'RS256' }, pem)), 401);
	h.expectError(await me(forge({}, {}, Buffer.from(pem))), 401);
	h.expectError(await me(forge({}, {}, Buffer.from(kid))), 401);
	h.expectError(await me(forge({}, {}, Buffer.alloc(0))), 401);
});

test('payload changed, original signature kept: 401', async () => {
	const swap = (changes) => `${tok.parts[0]}.${h.jsonSeg({ ...tok.payload, ...changes })}.${tok.parts[2]}`;
	h.expectError(await me(swap({ role: 'platform_admin' })), 401);
	h.expectError(await me(swap({ sub: 'US' + '0'.repeat(32) })), 401);
	h.expectError(await me(swap({ exp: tok.payload.exp + 3600 })), 401);
	h.expectError(await me(swap({ tid: 'AC' + 'f'.repeat(32) })), 401);
	// a flipped signature bit
	const sig = Buffer.from(tok.parts[2], 'base64url');
	sig[0] ^= 1;
	h.expectError(await me(`${tok.parts[0]}.${tok.parts[1]}.${h.b64u(sig)}`), 401);
	// truncated or extra segments
	h.expectError(await me(`${tok.parts[0]}.${tok.parts[1]}`), 401);
	h.expectError(await me(`${t.token}.x`), 401);
	h.expectError(await me(t.token.slice(0, -2)), 401);
});

test('signed with a wrong key or naming an unknown kid: 401', async () => {
	h.expectError(await me(forge({}, {}, crypto.randomBytes(32))), 401);
	h.expectError(await me(forge({}, { kid: 'JK' + '0'.repeat(32) })), 401);
	h.expectError(await me(forge({}, { kid: '../../etc/passwd' })), 401);
	const noKid = { ...tok.header };
	delete noKid.kid;
	h.expectError(await me(h.jwtSign(noKid, tok.payload, realKey)), 401);
	// header parameters that must never be honoured
	h.expectError(await me(forge({}, { jku: 'http://127.0.0.1:9/jwks' })), 401);
	h.expectError(await me(forge({}, { crit: ['exp'] })), 401);
});

test('expired, not yet valid, wrong audience or issuer (signed with the real key): 401', async () => {
	const n = now();
	h.expectError(await me(forge({ iat: n - 1000, nbf: n - 1000, exp: n - 120 })), 401);
	h.expectError(await me(forge({ nbf: n + 600, exp: n + 900 })), 401);
	h.expectError(await me(forge({ aud: 'other' })), 401);
	h.expectError(await me(forge({ iss: 'someone-else' })), 401);
	const noExp = { ...tok.payload };
	delete noExp.exp;
	h.expectError(await me(h.jwtSign(tok.header, noExp, realKey)), 401);
	h.expectError(await me(forge({ exp: String(n + 900) })), 401);
});

test('Authorization header variants do not confuse the parser', async () => {
	for (const v of ['Bearer', 'Bearer ', 'Bearer  ', `Token ${t.token}`, `Bearer ${t.token} extra`, 'Basic', 'Basic !!!!', `Bearer ${'a'.repeat(9000)}`]) {
		const r = await srv.req('GET', '/v1/auth/me', { headers: { authorization: v } });
		assert.equal(r.status, 401, `Authorization "${v.slice(0, 40)}": ${h.describeRes(r)}`);
	}
});

test('a restart with another audience rejects tokens issued for the old one', async () => {
	const oldToken = t.token;
	await srv.restart({ IRISX_AUTH_JWT_AUDIENCE: 'other' });
	h.expectError(await me(oldToken), 401);
	const fresh = await h.login(srv, t.email, t.password);
	assert.equal(h.jwtDecode(fresh.access_token).payload.aud, 'other');
	h.expectStatus(await me(fresh.access_token), 200, 'token for the new audience');
	// and another issuer
	await srv.restart({ IRISX_AUTH_JWT_AUDIENCE: 'other', IRISX_AUTH_JWT_ISSUER: 'elsewhere' });
	h.expectError(await me(fresh.access_token), 401);
});

test('IRISX_AUTH_ACCESS_TTL_S sets exp and expires_in', async () => {
	await srv.restart({ IRISX_AUTH_ACCESS_TTL_S: '10', IRISX_AUTH_JWT_AUDIENCE: 'irisx-api', IRISX_AUTH_JWT_ISSUER: 'irisx' });
	const l = await h.login(srv, t.email, t.password);
	assert.equal(l.expires_in, 10);
	const p = h.jwtDecode(l.access_token).payload;
	assert.equal(p.exp - p.iat, 10);
	h.expectStatus(await me(l.access_token), 200);
});

// A real expiry (TTL 10 s + 30 s leeway) costs 41 s; the forged expired token above covers
// the check. Set IRISX_E2E_SLOW=1 to also wait for a genuinely issued token to expire.
test('a genuinely issued token expires (IRISX_E2E_SLOW=1)', { skip: !process.env.IRISX_E2E_SLOW, timeout: 90000 }, async () => {
	await srv.restart({ IRISX_AUTH_ACCESS_TTL_S: '10', IRISX_AUTH_JWT_AUDIENCE: 'irisx-api', IRISX_AUTH_JWT_ISSUER: 'irisx' });
	const l = await h.login(srv, t.email, t.password);
	assert.equal(l.expires_in, 10);
	h.expectStatus(await me(l.access_token), 200);
	await h.sleep(42000);
	h.expectError(await me(l.access_token), 401);
});
