// 42: voice guardrail settings on SQLite and PostgreSQL: the operator's defaults shown with
// which fields are defaults, a tenant admin choosing allowed_countries (validated, upper-cased,
// de-duplicated, "*" alone, null back to the default) and refused every operator field (403
// operator_only), the platform admin's PUT (ranges, null resets, absent keeps), validation
// errors, audit entries, roles, and tenant isolation (B never sees A's settings; a tenant
// cannot use the admin route).
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

const DEFAULTS = {
	IRISX_VOICE_HOME_COUNTRY: 'GB',
	IRISX_VOICE_CALLS_PER_SECOND: '7',
	IRISX_VOICE_MAX_CONCURRENT_CALLS: '40',
	IRISX_VOICE_DAILY_SPEND_CAP: '250',
};
const ALL = ['home_country', 'allowed_countries', 'calls_per_second', 'max_concurrent_calls', 'daily_spend_cap'];

function suite(backend) {
	describe(`voice settings on ${backend}`, { timeout: 180000 }, () => {
		let srv, cluster, A, B, viewerKey;
		const get = (who) => srv.req('GET', '/v1/voice/settings', { token: who.token });
		const patch = (who, json) => srv.req('PATCH', '/v1/voice/settings', { token: who.token, json });
		const adminUrl = (t) => `/v1/admin/tenants/${t.tenantId}/voice-settings`;
		const admin = (method, t, json) => srv.req(method, adminUrl(t), { token: srv.adminToken, json });

		before(async () => {
			let pg;
			if (backend === 'postgres') {
				cluster = await h.pgCluster();
				pg = h.pgCreateDb(cluster, `vs_${h.rand(4)}`);
			}
			srv = await h.startServer({ tag: `vs-${backend}`, pg, admin: true, env: DEFAULTS });
			A = await h.registerTenant(srv, { tag: 'vs-a' });
			B = await h.registerTenant(srv, { tag: 'vs-b' });
			viewerKey = await h.createKey(srv, A.token, { role: 'viewer', name: 'vs-viewer' });
		});

		after(async () => {
			if (srv)
				await srv.cleanup();
			if (cluster)
				cluster.stop();
		});

		test('the server runs on the intended backend', async () => {
			const r = await srv.req('GET', '/readyz');
			h.expectStatus(r, 200);
			assert.match(JSON.stringify(r.body), new RegExp(backend === 'postgres' ? 'postgres' : 'sqlite'));
		});

		test('a new tenant sees the operator defaults, all marked as defaults', async () => {
			const r = await get(A);
			h.expectStatus(r, 200);
			assert.deepEqual(r.body, {
				tenant_id: A.tenantId,
				home_country: 'GB',
				allowed_countries: ['GB'],
				calls_per_second: 7,
				max_concurrent_calls: 40,
				daily_spend_cap: 250,
				defaults: ALL,
				updated_at: null,
			});
			// a viewer may read them (with an API key, Basic auth like Twilio's SDKs)
			const v = await srv.req('GET', '/v1/voice/settings', { basic: [A.tenantId, viewerKey.secret] });
			h.expectStatus(v, 200);
			assert.deepEqual(v.body, r.body);
		});

		test('a tenant admin chooses allowed_countries', async () => {
			const r = await patch(A, { allowed_countries: ['us', 'CA', 'GB', 'US', 'kz'] });
			h.expectStatus(r, 200);
			assert.deepEqual(r.body.allowed_countries, ['US', 'CA', 'GB', 'KZ']);
			assert.equal(r.body.home_country, 'GB');
			assert.deepEqual(r.body.defaults, ['home_country', 'calls_per_second', 'max_concurrent_calls', 'daily_spend_cap']);
			assert.match(r.body.updated_at, h.RFC3339_RE);
			assert.deepEqual((await get(A)).body.allowed_countries, ['US', 'CA', 'GB', 'KZ']);
			const any = await patch(A, { allowed_countries: ['*'] });
			h.expectStatus(any, 200);
			assert.deepEqual(any.body.allowed_countries, ['*']);
		});

		test('a tenant is refused the operator fields (403 operator_only) and nothing changes', async () => {
			for (const [field, value] of [
				['home_country', 'US'],
				['calls_per_second', 100],
				['max_concurrent_calls', 5000],
				['daily_spend_cap', 1e6],
			]) {
				const before = (await get(A)).body;
				const r = await patch(A, { [field]: value, allowed_countries: ['FR'] });
				h.expectError(r, 403, 'operator_only', field);
				assert.deepEqual((await get(A)).body, before, `${field}: settings changed after a refusal`);
			}
		});

		test('tenant validation errors name the field', async () => {
			const f = 'allowed_countries';
			h.expectError(await patch(A, { allowed_countries: ['XX'] }), 400, 'invalid_country', f);
			h.expectError(await patch(A, { allowed_countries: ['USA'] }), 400, 'invalid_country', f);
			h.expectError(await patch(A, { allowed_countries: ['*', 'US'] }), 400, 'invalid_country', f);
			h.expectError(await patch(A, { allowed_countries: [1] }), 400, 'invalid_country', f);
			h.expectError(await patch(A, { allowed_countries: [] }), 400, 'invalid_field', f);
			h.expectError(await patch(A, { allowed_countries: 'US' }), 400, 'invalid_type', f);
			h.expectError(await patch(A, { allowed_countries: Array(301).fill('US') }), 400, 'invalid_field', f);
			h.expectError(await patch(A, { colour: 'blue' }), 400, 'unknown_field', 'colour');
			assert.deepEqual((await get(A)).body.allowed_countries, ['*']);
		});

		test('roles: a viewer cannot PATCH, a tenant cannot use the admin route', async () => {
			const v = await srv.req('PATCH', '/v1/voice/settings', { token: viewerKey.secret, json: { allowed_countries: ['US'] } });
			h.expectError(v, 403);
			for (const t of [A, B]) {
				h.expectError(await srv.req('PUT', adminUrl(A), { token: t.token, json: { calls_per_second: 1000 } }), 403);
				h.expectError(await srv.req('GET', adminUrl(A), { token: t.token }), 403);
			}
			assert.equal((await get(A)).body.calls_per_second, 7);
		});

		test('the platform admin sets every field; absent fields stay; null restores the default', async () => {
			let r = await admin('PUT', A, { home_country: 'us', calls_per_second: 1000, max_concurrent_calls: 100000, daily_spend_cap: 12.5 });
			h.expectStatus(r, 200);
			assert.equal(r.body.home_country, 'US');
			assert.equal(r.body.calls_per_second, 1000);
			assert.equal(r.body.max_concurrent_calls, 100000);
			assert.equal(r.body.daily_spend_cap, 12.5);
			assert.deepEqual(r.body.allowed_countries, ['*'], 'the tenant\'s choice stays');
			assert.deepEqual(r.body.defaults, []);
			r = await admin('GET', A);
			h.expectStatus(r, 200);
			assert.equal(r.body.daily_spend_cap, 12.5);
			assert.deepEqual((await get(A)).body, r.body, 'the tenant sees what the admin set');
			r = await admin('PUT', A, { allowed_countries: null, calls_per_second: null, daily_spend_cap: 0 });
			h.expectStatus(r, 200);
			assert.deepEqual(r.body.allowed_countries, ['US'], 'default: the (new) home country');
			assert.equal(r.body.calls_per_second, 7);
			assert.equal(r.body.daily_spend_cap, 0);
			assert.deepEqual(r.body.defaults, ['allowed_countries', 'calls_per_second']);
			r = await admin('PUT', A, {});
			h.expectStatus(r, 200);
			assert.equal(r.body.max_concurrent_calls, 100000);
		});

		test('admin validation errors', async () => {
			const before = (await admin('GET', A)).body;
			const cases = [
				[{ calls_per_second: 0 }, 'invalid_field', 'calls_per_second'],
				[{ calls_per_second: 1001 }, 'invalid_field', 'calls_per_second'],
				[{ calls_per_second: 2.5 }, 'invalid_type', 'calls_per_second'],
				[{ max_concurrent_calls: 0 }, 'invalid_field', 'max_concurrent_calls'],
				[{ max_concurrent_calls: 100001 }, 'invalid_field', 'max_concurrent_calls'],
				[{ daily_spend_cap: -1 }, 'invalid_field', 'daily_spend_cap'],
				[{ daily_spend_cap: '10' }, 'invalid_type', 'daily_spend_cap'],
				[{ home_country: 'ZZ' }, 'invalid_country', 'home_country'],
				[{ home_country: 44 }, 'invalid_country', 'home_country'],
				[{ allowed_countries: ['GB', 'Q1'] }, 'invalid_country', 'allowed_countries'],
				[{ tenant_rps: 5 }, 'unknown_field', 'tenant_rps'],
			];
			for (const [json, code, field] of cases)
				h.expectError(await admin('PUT', A, json), 400, code, field);
			assert.deepEqual((await admin('GET', A)).body, before, 'a refused PUT changed the settings');
			const missing = `/v1/admin/tenants/AC${'0'.repeat(32)}/voice-settings`;
			h.expectError(await srv.req('GET', missing, { token: srv.adminToken }), 404);
			h.expectError(await srv.req('PUT', missing, { token: srv.adminToken, json: { calls_per_second: 5 } }), 404);
			h.expectError(await srv.req('GET', '/v1/admin/tenants/bogus/voice-settings', { token: srv.adminToken }), 404);
		});

		test('tenant isolation: B keeps the defaults and never sees A\'s settings', async () => {
			const r = await get(B);
			h.expectStatus(r, 200);
			assert.equal(r.body.tenant_id, B.tenantId);
			assert.deepEqual(r.body.defaults, ALL);
			assert.equal(r.body.home_country, 'GB');
			const p = await patch(B, { allowed_countries: ['DE'] });
			h.expectStatus(p, 200);
			assert.deepEqual((await get(B)).body.allowed_countries, ['DE']);
			const a = (await get(A)).body;
			assert.equal(a.tenant_id, A.tenantId);
			assert.deepEqual(a.allowed_countries, ['US']);
			assert.equal(a.max_concurrent_calls, 100000);
		});

		test('changes are audited', async () => {
			const mine = await h.listAll(srv, '/v1/audit-logs', { token: A.token });
			const tenant = mine.filter((e) => e.action === 'voice_settings.update');
			assert.ok(tenant.some((e) => e.status === 200), JSON.stringify(tenant.slice(0, 3)));
			assert.ok(tenant.some((e) => e.status === 403), 'refused PATCH not audited');
			const all = await h.listAll(srv, `/v1/admin/audit-logs?tenant_id=${A.tenantId}`, { token: srv.adminToken });
			assert.ok(all.some((e) => e.action === 'admin.voice_settings.update' && e.status === 200), 'admin PUT not audited');
			const b = await h.listAll(srv, '/v1/audit-logs', { token: B.token });
			// B's own denied attempt at the admin route is in B's trail; the admin's changes are not
			const bAdmin = b.filter((e) => e.action === 'admin.voice_settings.update');
			assert.ok(bAdmin.length >= 1 && bAdmin.every((e) => e.status === 403), JSON.stringify(bAdmin));
		});
	});
}

suite('sqlite');
suite('postgres');
