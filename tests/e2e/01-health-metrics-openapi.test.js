// 01: probes, Prometheus metrics, the OpenAPI document against the route table, the CLI.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const h = require('./lib/harness');

let srv;
before(async () => {
	srv = await h.startServer({ tag: 'health' });
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

test('CLI: version and --help', () => {
	const v = spawnSync(h.BIN, ['version'], { encoding: 'utf8' });
	assert.equal(v.status, 0, v.stderr);
	assert.match(v.stdout + v.stderr, /\d+\.\d+\.\d+/);
	const hp = spawnSync(h.BIN, ['--help'], { encoding: 'utf8' });
	assert.equal(hp.status, 0, hp.stderr);
	for (const cmd of ['serve', 'migrate', 'create-platform-admin', 'version'])
		assert.ok((hp.stdout + hp.stderr).includes(cmd), `--help does not mention ${cmd}`);
	const bad = spawnSync(h.BIN, ['no-such-command'], { encoding: 'utf8' });
	assert.notEqual(bad.status, 0, 'an unknown command must fail');
});

test('irisx migrate is idempotent on an existing database', () => {
	const r1 = srv.cli(['migrate']);
	assert.equal(r1.status, 0, `migrate: ${r1.stdout}${r1.stderr}`);
	const r2 = srv.cli(['migrate']);
	assert.equal(r2.status, 0, `second migrate: ${r2.stdout}${r2.stderr}`);
});

test('GET /healthz and /readyz', async () => {
	const r = await srv.req('GET', '/healthz');
	h.expectStatus(r, 200);
	assert.deepEqual(r.body, { status: 'ok' });
	assert.match(r.h('content-type') || '', /application\/json/);
	const rd = await srv.req('GET', '/readyz');
	h.expectStatus(rd, 200);
	assert.equal(rd.body.status, 'ready');
	assert.equal(rd.body.database, 'sqlite');
});

test('every response carries X-Request-Id, unique per request', async () => {
	const reqs = [
		['GET', '/healthz'],
		['GET', '/readyz'],
		['GET', '/metrics'],
		['GET', '/v1/openapi.json'],
		['GET', '/v1/no-such-route'],
		['DELETE', '/healthz'],
		['GET', '/v1/auth/me'],
		['POST', '/v1/auth/login', { body: '{', headers: { 'content-type': 'application/json' } }],
		['POST', '/v1/auth/login', { json: { email: 'nobody@e2e.example.com', password: 'x'.repeat(12) } }],
	];
	const seen = new Set();
	for (const [m, p, o] of reqs) {
		const r = await srv.req(m, p, o);
		const id = r.h('x-request-id');
		assert.ok(id && id.length >= 8, `${m} ${p} (${r.status}) has no X-Request-Id`);
		assert.ok(!seen.has(id), `X-Request-Id ${id} repeated`);
		seen.add(id);
	}
});

test('GET /metrics is Prometheus text with request counts, a latency histogram, store errors', async () => {
	// some traffic with known routes and statuses first
	await srv.req('GET', '/v1/openapi.json');
	await srv.req('GET', '/v1/auth/me'); // 401
	await srv.req('GET', '/v1/nope'); // 404
	const r = await srv.req('GET', '/metrics');
	h.expectStatus(r, 200);
	assert.match(r.h('content-type') || '', /^text\/plain/);
	const t = r.text;
	assert.match(t, /# TYPE irisx_http_requests_total counter/);
	assert.match(t, /# TYPE irisx_http_request_duration_seconds histogram/);
	assert.match(t, /# TYPE irisx_store_errors_total counter/);
	const line = (re) => t.split('\n').find((l) => re.test(l));
	const openapi = line(/^irisx_http_requests_total\{[^}]*route="\/v1\/openapi\.json"[^}]*status="200"[^}]*\} \d+/) ||
		line(/^irisx_http_requests_total\{[^}]*status="200"[^}]*route="\/v1\/openapi\.json"[^}]*\} \d+/);
	assert.ok(openapi, 'no irisx_http_requests_total sample for GET /v1/openapi.json 200');
	assert.match(openapi, /method="GET"/);
	assert.ok(+openapi.split(' ').pop() >= 1);
	assert.ok(line(/^irisx_http_requests_total\{[^}]*route="\/v1\/auth\/me"[^}]*\} \d+/), 'no sample for /v1/auth/me');
	assert.ok(line(/^irisx_http_requests_total\{[^}]*status="401"[^}]*\} \d+/), 'no sample with status 401');
	assert.ok(line(/^irisx_http_request_duration_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} \d+/), 'no +Inf bucket');
	assert.ok(line(/^irisx_http_request_duration_seconds_sum/), 'no _sum');
	assert.ok(line(/^irisx_http_request_duration_seconds_count/), 'no _count');
	assert.ok(line(/^irisx_store_errors_total \d+/), 'no irisx_store_errors_total sample');
	// unknown paths must not create one label set per path (cardinality)
	assert.ok(!t.includes('/v1/nope'), 'metrics labels carry a raw unknown path');
	// every sample line parses
	for (const l of t.split('\n')) {
		if (!l || l.startsWith('#'))
			continue;
		assert.match(l, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? ([-+0-9.eE]+|NaN|[+-]Inf)( -?\d+)?$/, `bad sample line: ${l}`);
	}
});

test('OpenAPI 3.1 document lists every route of src/api/routes.c', async () => {
	const r = await srv.req('GET', '/v1/openapi.json');
	h.expectStatus(r, 200);
	const doc = r.body;
	assert.ok(doc, 'openapi.json is not JSON');
	assert.match(String(doc.openapi), /^3\.1\./);
	assert.ok(doc.info && doc.info.title && doc.info.version, 'info.title/version missing');
	assert.equal(typeof doc.paths, 'object');
	const routes = h.routeTable();
	assert.ok(routes.length >= 30, `only ${routes.length} routes parsed from routes.c`);
	const missing = [];
	for (const rt of routes) {
		const p = doc.paths[rt.path];
		if (!p || !p[rt.method.toLowerCase()])
			missing.push(`${rt.method} ${rt.path}`);
	}
	assert.deepEqual(missing, [], `routes missing from /v1/openapi.json: ${missing.join(', ')}`);
	// and nothing documented that the table does not have
	const table = new Set(routes.map((x) => `${x.method} ${x.path}`));
	const extra = [];
	for (const [p, ops] of Object.entries(doc.paths))
		for (const m of Object.keys(ops))
			if (['get', 'post', 'put', 'patch', 'delete'].includes(m) && !table.has(`${m.toUpperCase()} ${p}`))
				extra.push(`${m.toUpperCase()} ${p}`);
	assert.deepEqual(extra, [], `documented but not routed: ${extra.join(', ')}`);
	// each operation has responses
	for (const rt of routes) {
		const op = doc.paths[rt.path][rt.method.toLowerCase()];
		assert.ok(op.responses && Object.keys(op.responses).length, `${rt.method} ${rt.path} has no responses`);
	}
});

test('every route in the table is served (not 404 route / 405)', async () => {
	for (const rt of h.routeTable()) {
		const p = rt.path.replace(/\{id\}/g, 'XX' + '0'.repeat(32));
		const r = await srv.req(rt.method, p, rt.method === 'GET' || rt.method === 'DELETE' ? {} : { json: {} });
		assert.notEqual(r.status, 405, `${rt.method} ${p}: 405`);
		if (!rt.path.includes('{'))
			assert.notEqual(r.status, 404, `${rt.method} ${p}: 404 for a routed path`);
		assert.ok(r.status < 500, `${rt.method} ${p}: ${r.status}`);
	}
});
