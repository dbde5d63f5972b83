// 11: tenant isolation matrix on SQLite and PostgreSQL: tenant A reading, changing or
// deleting each of tenant B's resources gets 404; A's lists never show B's ids. Every
// /v1/<resource>/{id} route of src/api/routes.c is covered, so a new route without a
// fixture here fails the suite.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');

/* Tenant routes with an {id}: the platform admin routes are role-checked elsewhere. */
function idRoutes() {
	// (/v1/inbound/...: providers' webhooks, unauthenticated; the provider id is the capability)
	return h
		.routeTable()
		.filter((r) => r.path.startsWith('/v1/') && r.path.includes('{') && !r.path.startsWith('/v1/admin/') && !r.path.startsWith('/v1/inbound/'));
}

/* Tenant list routes (GET, no path parameter). */
function listRoutes() {
	return h
		.routeTable()
		.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/') && !r.path.includes('{'))
		.filter((r) => !r.path.startsWith('/v1/admin/') && !['/v1/openapi.json', '/v1/auth/me', '/v1/tenant', '/v1/tenant/auth-token', '/v1/voice/settings', '/v1/dialplan-rules/match'].includes(r.path))
		.filter((r) => r.path !== '/v1/calls/export'); // CSV, checked on its own below
}

/* Valid bodies per route, so a 404 is not a 400 in disguise; one request per body. */
function bodiesFor(method, path) {
	if (method === 'PATCH' && path.startsWith('/v1/users/'))
		return [{ name: 'pwned by A' }, { disabled: true }, { role: 'viewer' }];
	if (method === 'PATCH' && path.startsWith('/v1/webhooks/'))
		return [{ description: 'pwned by A' }, { enabled: false }, { url: 'https://evil.example.com/x' }];
	if (method === 'POST' && path === '/v1/webhooks/{id}/replay')
		return [{ since: '2020-01-01T00:00:00Z' }];
	if (method === 'PATCH' && path === '/v1/phone-numbers/{id}')
		return [{ sms_url: 'https://evil.example.com/x' }, { voice_url: 'https://evil.example.com/v' }, { voice_method: 'GET' }];
	if (method === 'PATCH' && ['/v1/carriers/{id}', '/v1/applications/{id}', '/v1/dialplan-rules/{id}'].includes(path))
		return [{ name: 'pwned' }];
	if (method === 'PUT' && path === '/v1/carriers/{id}/rates')
		return [{ rates: [{ prefix: '1', cost_per_min: 0.0001 }] }];
	if (method === 'PATCH' && path === '/v1/email-templates/{id}')
		return [{ subject: 'pwned' }];
	if (method === 'PATCH' && path === '/v1/messaging-providers/{id}')
		return [{ name: 'pwned' }, { enabled: false }];
	if (method === 'PUT' && path === '/v1/messaging-providers/{id}/rates')
		return [{ csv: '1,0.0001' }];
	if (method === 'POST' && path === '/v1/calls/{id}')
		return [{ status: 'canceled' }, { status: 'completed' }, { url: 'https://evil.example.com/x' }, { twiml: '<Response><Hangup/></Response>' }];
	if (method === 'POST' && path === '/v1/calls/{id}/transfer')
		return [{ to: '+15551119999' }, { to: 'sip:evil@example.com', mode: 'attended' }];
	if (method === 'PATCH' || method === 'PUT' || method === 'POST')
		return [{}];
	return [undefined];
}

function isolationSuite(backend) {
	describe(`tenant isolation on ${backend}`, { timeout: 240000 }, () => {
		let srv, cluster, pg, A, B, aKey, rcv;
		const bRes = {}; // kind -> B's resource id
		const bIds = [];

		before(async () => {
			if (backend === 'postgres') {
				cluster = await h.pgCluster();
				pg = h.pgCreateDb(cluster, `iso_${h.rand(4)}`);
			}
			rcv = await startReceiver(() => ({ status: 204 }));
			srv = await h.startServer({ tag: `iso-${backend}`, pg, admin: true, env: { IRISX_OUTBOUND_ALLOW_PRIVATE: 'true' } });
			A = await h.registerTenant(srv, { tag: 'iso-a' });
			B = await h.registerTenant(srv, { tag: 'iso-b' });
			aKey = await h.createKey(srv, A.token, { role: 'owner', name: 'a-owner-key' });
			const bUser = await srv.req('POST', '/v1/users', { token: B.token, json: { email: h.uniqEmail('iso-bu'), role: 'admin', name: 'B user', password: h.PASSWORD } });
			h.expectStatus(bUser, 201);
			const bKey = await h.createKey(srv, B.token, { role: 'admin', name: 'b-key' });
			bRes.users = bUser.body.id;
			bRes['api-keys'] = bKey.id;
			bRes.bKeySecret = bKey.secret;
			bIds.push(B.tenantId, B.userId, bUser.body.id, bKey.id);
			// some activity in B so its audit trail and lists have content
			await srv.req('PATCH', '/v1/tenant', { token: B.token, json: { name: 'B Corp' } });
			await h.createKey(srv, B.token, { name: 'b-second' }).then((k) => bIds.push(k.id));
			// a webhook endpoint of B's with one delivered test event: endpoint, delivery, job
			const ep = await srv.req('POST', '/v1/webhooks', { token: B.token, json: { url: rcv.url('/b'), description: 'B hook' } });
			h.expectStatus(ep, 201);
			bRes.webhooks = ep.body.id;
			bRes.bWebhookSecret = ep.body.secret;
			const ev = await srv.req('POST', `/v1/webhooks/${ep.body.id}/test`, { token: B.token });
			h.expectStatus(ev, 202);
			await rcv.waitFor(() => rcv.on('/b').length >= 1, 10000, "B's test event");
			let dl = [];
			for (let i = 0; i < 100 && !dl.length; i++) {
				dl = (await srv.req('GET', `/v1/webhooks/${ep.body.id}/deliveries`, { token: B.token })).body.data;
				if (!dl.length)
					await h.sleep(50);
			}
			assert.ok(dl.length, "B's delivery logged");
			bRes['webhook-deliveries'] = dl[0].id;
			const jobs = (await srv.req('GET', '/v1/jobs', { token: B.token })).body.data;
			assert.ok(jobs.length, "B's job listed");
			bRes.jobs = jobs[0].id;
			bIds.push(ep.body.id, dl[0].id, jobs[0].id, ev.body.event_id);
			// messaging: B's number, own provider, a message, an e-mail and a template
			const admin = srv.adminToken;
			const num = await srv.req('POST', '/v1/admin/phone-numbers', { token: admin, json: { number: `+1555${String(Date.now()).slice(-7)}`, tenant_id: B.tenantId } });
			h.expectStatus(num, 201, "B's number");
			bRes['phone-numbers'] = num.body.id;
			const mp = await srv.req('POST', '/v1/messaging-providers', {
				token: B.token,
				json: { name: 'B smsc', kind: 'smpp', config: { host: '127.0.0.1', port: 9, system_id: 'b', password: 'bpw' }, enabled: false },
			});
			h.expectStatus(mp, 201, "B's provider");
			bRes['messaging-providers'] = mp.body.id;
			// an operator deck (B's own provider is disabled): the price at acceptance is read in
			// system scope, since the operator's rows are not B's (row-level security on PG)
			const op = await srv.req('POST', '/v1/admin/messaging-providers', {
				token: admin,
				json: { name: 'op smsc', kind: 'smpp', config: { host: '127.0.0.1', port: 9, system_id: 'op', password: 'oppw' } },
			});
			h.expectStatus(op, 201, 'operator provider');
			h.expectStatus(await srv.req('PUT', `/v1/admin/messaging-providers/${op.body.id}/rates`, { token: admin, json: { csv: 'prefix,cost\n1,0.0030\n1555111,0.0020\n' } }), 200);
			const msg = await srv.req('POST', '/v1/messages', { token: B.token, json: { from: num.body.number, to: '+15551110000', body: 'B secret text' } });
			h.expectStatus(msg, 201, "B's message");
			assert.equal(msg.body.price, 0.002, `priced from the operator's deck on ${backend}`);
			bRes.messages = msg.body.id;
			const tpl = await srv.req('POST', '/v1/email-templates', { token: B.token, json: { name: 'b', subject: 'B subject', text: 'B' } });
			h.expectStatus(tpl, 201, "B's template");
			bRes['email-templates'] = tpl.body.id;
			const em = await srv.req('POST', '/v1/emails', { token: B.token, json: { from: 'b@b.example.com', to: ['x@example.com'], subject: 'B mail', text: 'B' } });
			h.expectStatus(em, 201, "B's e-mail");
			bRes.emails = em.body.id;
			bIds.push(num.body.id, mp.body.id, msg.body.id, tpl.body.id, em.body.id);
			// voice: a call of B's (it stays queued: these servers run no voice engine)
			const call = await srv.req('POST', '/v1/calls', { token: B.token, json: { from: num.body.number, to: '+15551110000', twiml: '<Response><Say>B secret</Say></Response>' } });
			h.expectStatus(call, 201, "B's call");
			bRes.calls = call.body.id;
			bIds.push(call.body.id);
			// voice: B's own carrier with a rate deck, an application, a dialplan rule, a TTS
			// resource and B's number pointed at B's application
			const tk = await srv.req('POST', '/v1/carriers', { token: B.token, json: { name: 'B trunk', host: 'sip.b.example.com', password: 'b-trunk-pw' } });
			h.expectStatus(tk, 201, "B's carrier");
			bRes.carriers = tk.body.id;
			h.expectStatus(await srv.req('PUT', `/v1/carriers/${tk.body.id}/rates`, { token: B.token, body: 'prefix,cost\n44,0.02\n', headers: { 'content-type': 'text/csv' } }), 200, "B's rates");
			const ap = await srv.req('POST', '/v1/applications', { token: B.token, json: { name: 'B app', kind: 'document', document: '<Response><Say>B secret</Say></Response>' } });
			h.expectStatus(ap, 201, "B's application");
			bRes.applications = ap.body.id;
			const dr = await srv.req('POST', '/v1/dialplan-rules', { token: B.token, json: { name: 'B rule', application_id: ap.body.id } });
			h.expectStatus(dr, 201, "B's rule");
			bRes['dialplan-rules'] = dr.body.id;
			const tt = await srv.req('POST', '/v1/tts', { token: B.token, json: { text: 'B secret speech' } });
			h.expectStatus(tt, 201, "B's tts");
			bRes.tts = tt.body.id;
			h.expectStatus(await srv.req('PATCH', `/v1/phone-numbers/${num.body.id}`, { token: B.token, json: { voice_application_id: ap.body.id } }), 200);
			// recordings are made by calls only: an id of the right shape that is not A's
			bRes.recordings = 'RE' + h.rand(16);
			bIds.push(tk.body.id, ap.body.id, dr.body.id, tt.body.id);
		});
		after(async () => {
			if (rcv)
				await rcv.close();
			if (srv)
				await srv.cleanup();
			if (cluster)
				cluster.stop();
		});

		test('the server runs on the intended backend', async () => {
			const r = await srv.req('GET', '/readyz');
			h.expectStatus(r, 200);
			assert.equal(r.body.database, backend === 'postgres' ? 'postgres' : 'sqlite');
		});

		test('A -> each of B\'s resources by id: 404 not_found (token, key, Basic)', async () => {
			const routes = idRoutes();
			assert.ok(routes.length >= 4, `only ${routes.length} id routes`);
			const problems = [];
			for (const rt of routes) {
				const kind = rt.path.split('/')[2];
				const id = bRes[kind];
				if (!id) {
					problems.push(`no tenant-B fixture for ${rt.method} ${rt.path}: add one to 11-tenant-isolation.test.js`);
					continue;
				}
				const p = rt.path.replace('{id}', id);
				for (const [label, auth] of [
					['A owner token', { token: A.token }],
					['A owner key', { token: aKey.secret }],
					['A Basic', { basic: [A.tenantId, aKey.secret] }],
				]) {
					for (const body of bodiesFor(rt.method, rt.path)) {
						const r = await srv.req(rt.method, p, { ...auth, json: body });
						if (r.status !== 404 || !r.body || !r.body.error || r.body.error.code !== 'not_found')
							problems.push(`${label}: ${rt.method} ${p} ${JSON.stringify(body) || ''} -> ${r.status} ${r.text.slice(0, 200)}`);
					}
				}
			}
			assert.deepEqual(problems, [], problems.join('\n'));
		});

		test('B\'s resources are untouched afterwards', async () => {
			const u = await srv.req('GET', `/v1/users/${bRes.users}`, { token: B.token });
			h.expectStatus(u, 200);
			assert.equal(u.body.name, 'B user');
			assert.equal(u.body.status, 'active');
			assert.equal(u.body.role, 'admin');
			const k = await srv.req('GET', `/v1/api-keys/${bRes['api-keys']}`, { token: B.token });
			h.expectStatus(k, 200);
			const me = await srv.req('GET', '/v1/auth/me', { token: bRes.bKeySecret });
			h.expectStatus(me, 200, 'B key still works');
			assert.equal(me.body.tenant.id, B.tenantId);
			const w = await srv.req('GET', `/v1/webhooks/${bRes.webhooks}`, { token: B.token });
			h.expectStatus(w, 200);
			assert.equal(w.body.description, 'B hook');
			assert.equal(w.body.enabled, true);
			assert.equal(w.body.previous_secret_expires_at, null, 'secret not rotated by A');
			// (B's own later events reach it too: count the test events and their ids)
			const tests = rcv.on('/b').filter((r) => JSON.parse(r.body).type === 'webhook.test');
			assert.equal(tests.length, 1, "A's test/replay attempts sent nothing to B's receiver");
			const j = await srv.req('GET', `/v1/jobs/${bRes.jobs}`, { token: B.token });
			assert.equal(h.expectStatus(j, 200).state, 'done');
			const t = await srv.req('GET', `/v1/email-templates/${bRes['email-templates']}`, { token: B.token });
			assert.equal(h.expectStatus(t, 200).subject, 'B subject');
			const p = await srv.req('GET', `/v1/messaging-providers/${bRes['messaging-providers']}`, { token: B.token });
			assert.equal(h.expectStatus(p, 200).name, 'B smsc');
			const rates = await srv.req('GET', `/v1/messaging-providers/${bRes['messaging-providers']}/rates`, { token: B.token });
			assert.deepEqual(h.expectStatus(rates, 200).data, [], "A's rate deck never landed");
			const n = await srv.req('GET', `/v1/phone-numbers/${bRes['phone-numbers']}`, { token: B.token });
			assert.equal(h.expectStatus(n, 200).sms_url, null);
			assert.equal(n.body.voice_url, null);
			assert.equal(n.body.voice_application_id, bRes.applications);
			const tk = await srv.req('GET', `/v1/carriers/${bRes.carriers}`, { token: B.token });
			assert.equal(h.expectStatus(tk, 200).name, 'B trunk');
			const tr = await srv.req('GET', `/v1/carriers/${bRes.carriers}/rates`, { token: B.token });
			assert.deepEqual(h.expectStatus(tr, 200).data.map((r) => r.prefix), ['44'], "A's deck never landed");
			const ap = await srv.req('GET', `/v1/applications/${bRes.applications}`, { token: B.token });
			assert.equal(h.expectStatus(ap, 200).name, 'B app');
			const dr = await srv.req('GET', `/v1/dialplan-rules/${bRes['dialplan-rules']}`, { token: B.token });
			assert.equal(h.expectStatus(dr, 200).name, 'B rule');
			// A's dialplan never matches B's rule, and A may not point its rules at B's app
			h.expectError(await srv.req('GET', '/v1/dialplan-rules/match?to=%2B15550001111', { token: A.token }), 404, 'not_found');
			h.expectError(await srv.req('POST', '/v1/dialplan-rules', { token: A.token, json: { application_id: bRes.applications } }), 400, 'invalid_field', 'application_id');
			// the same text by A is A's own resource (another id)
			const att = await srv.req('POST', '/v1/tts', { token: A.token, json: { text: 'B secret speech' } });
			assert.notEqual(h.expectStatus(att, 201).id, bRes.tts);
			const mm = await srv.req('GET', `/v1/messages/${bRes.messages}`, { token: B.token });
			assert.notEqual(h.expectStatus(mm, 200).status, 'canceled', 'not canceled by A');
			const c = h.expectStatus(await srv.req('GET', `/v1/calls/${bRes.calls}`, { token: B.token }), 200);
			assert.equal(c.status, 'queued', 'not canceled or hung up by A');
			assert.equal(c.url, null, 'not redirected by A');
			assert.match(c.twiml, /B secret/);
		});

		test('A\'s lists never contain B\'s ids (also with B ids as filters and cursors)', async () => {
			const routes = listRoutes();
			assert.ok(routes.some((r) => r.path === '/v1/users') && routes.some((r) => r.path === '/v1/api-keys'));
			const leaks = [];
			// A's own audit trail records A's 404 attempts on B's ids (above): those name B's
			// ids because A sent them; anything else naming a B id is a leak.
			const ownAttempt = (it) => it.actor_id && [A.userId, aKey.id].includes(it.actor_id) && it.status === 404;
			for (const rt of routes) {
				const items = (await h.listAll(srv, rt.path, { token: A.token })).filter((it) => !ownAttempt(it));
				const text = JSON.stringify(items);
				for (const id of bIds)
					if (text.includes(id))
						leaks.push(`${rt.path} lists ${id}`);
				for (const it of items)
					if (it.tenant_id && it.tenant_id !== A.tenantId)
						leaks.push(`${rt.path} item of tenant ${it.tenant_id}`);
			}
			for (const q of [`resource_id=${bRes['api-keys']}`, `actor_id=${B.userId}`, `resource_id=${B.tenantId}`]) {
				const r = await srv.req('GET', `/v1/audit-logs?${q}`, { token: A.token });
				h.expectStatus(r, 200);
				const foreign = r.body.data.filter((it) => !ownAttempt(it) || it.tenant_id !== A.tenantId);
				if (foreign.length)
					leaks.push(`audit-logs?${q} returned ${foreign.length} entries not from A: ${JSON.stringify(foreign[0])}`);
			}
			for (const [p, cur] of [['/v1/users', bRes.users], ['/v1/api-keys', bRes['api-keys']]]) {
				const r = await srv.req('GET', `${p}?cursor=${cur}`, { token: A.token });
				if (r.status === 200) {
					for (const id of bIds)
						if (r.text.includes(id) && id !== cur)
							leaks.push(`${p}?cursor=<B id> lists ${id}`);
				} else if (r.status !== 400) {
					leaks.push(`${p}?cursor=<B id> -> ${r.status}`);
				}
			}
			for (const q of ['', `?parent_call_id=${bRes.calls}`, '?status=queued']) {
				const r = await srv.req('GET', `/v1/calls/export${q}`, { token: A.token });
				h.expectStatus(r, 200);
				for (const id of bIds)
					if (r.text.includes(id))
						leaks.push(`/v1/calls/export${q} lists ${id}`);
			}
			const t = await srv.req('GET', '/v1/tenant', { token: A.token });
			assert.equal(t.body.id, A.tenantId);
			assert.deepEqual(leaks, [], leaks.join('\n'));
		});

		test('credentials do not cross tenants', async () => {
			h.expectError(await srv.req('GET', '/v1/tenant', { basic: [B.tenantId, aKey.secret] }), 401);
			h.expectError(await srv.req('GET', '/v1/tenant', { basic: [A.tenantId, bRes.bKeySecret] }), 401);
			h.expectError(await srv.req('GET', '/v1/tenant', { basic: [bRes['api-keys'], aKey.secret] }), 401);
		});

		if (backend === 'postgres') {
			const psql = (...sqls) => {
				const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', pg.url];
				for (const s of sqls)
					args.push('-c', s);
				const r = spawnSync('psql', args, { encoding: 'utf8', timeout: 30000 });
				return { ok: r.status === 0, out: (r.stdout || '').trim(), err: r.stderr };
			};
			const psqlOwner = (sql) => {
				const r = spawnSync('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', pg.migrateUrl, '-c', sql], { encoding: 'utf8', timeout: 30000 });
				assert.equal(r.status, 0, `psql (owner): ${r.stderr}`);
				return r.stdout.trim();
			};

			test('RLS: every table with tenant_id has row security enabled and forced', () => {
				const tables = psqlOwner(
					"SELECT c.relname || '|' || c.relrowsecurity || '|' || c.relforcerowsecurity || '|' || pg_get_userbyid(c.relowner) " +
						"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
						"WHERE n.nspname = 'public' AND c.relkind = 'r' AND EXISTS (SELECT 1 FROM information_schema.columns i " +
						"WHERE i.table_schema = 'public' AND i.table_name = c.relname AND i.column_name = 'tenant_id')"
				)
					.split('\n')
					.filter(Boolean)
					.map((l) => l.split('|'));
				assert.ok(tables.length >= 5, `tenant tables: ${JSON.stringify(tables)}`);
				const yes = (v) => v === 't' || v === 'true'; // text of a boolean in a concatenation is 'true'
				const bad = tables.filter(([, rls, force, owner]) => !yes(rls) || !yes(force) || owner === 'irisx_app');
				assert.deepEqual(bad, [], `tables without enabled+forced RLS or owned by irisx_app: ${JSON.stringify(bad)}`);
				const owned = psqlOwner("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = 'irisx_app'");
				assert.equal(owned, '0', 'irisx_app owns objects');
				const su = psqlOwner("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'irisx_app'");
				assert.equal(su, 'f', 'irisx_app is superuser or BYPASSRLS');
			});

			test('RLS: the app role without a tenant sees no tenant rows', () => {
				for (const table of ['users', 'api_keys', 'sessions', 'audit_logs']) {
					const r = psql(`SELECT count(*) FROM ${table}`);
					if (r.ok)
						assert.equal(r.out, '0', `irisx_app sees ${r.out} rows of ${table} with no tenant set`);
				}
				const r = psql('BEGIN', `SET LOCAL app.tenant_id = '${A.tenantId}'`, `SELECT count(*) FROM users WHERE tenant_id = '${B.tenantId}'`, 'COMMIT');
				if (r.ok)
					assert.match(r.out, /(^|\n)0(\n|$)/, `with app.tenant_id = A, B's users are visible: ${r.out}`);
			});
		}
	});
}

isolationSuite('sqlite');
isolationSuite('postgres');
