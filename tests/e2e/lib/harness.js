// harness.js: starts the real irisx binary on a free loopback port and gives tests small
// helpers (HTTP, raw sockets, tenants, mail tokens, JWT forging, PostgreSQL clusters).
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const BIN = process.env.IRISX_BIN || path.join(repoRoot, 'build', 'irisx');
const KEEP = !!process.env.IRISX_E2E_KEEP; // keep temp dirs (logs, databases) for debugging
const PASSWORD = 'correct-horse-battery-staple-1';

const ID_RE = (p) => new RegExp(`^${p}[0-9a-f]{32}$`);
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

// ---- processes we started: killed on exit so a failing test leaves nothing behind ----

const children = new Set();
process.on('exit', () => {
	for (const c of children) {
		try {
			process.kill(c.pid, 'SIGKILL');
		} catch {}
	}
});

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

function rand(n = 6) {
	return crypto.randomBytes(n).toString('hex');
}

function uniqEmail(tag = 'user') {
	return `${tag}-${rand()}@e2e.example.com`;
}

function tmpDir(tag) {
	return fs.mkdtempSync(path.join(os.tmpdir(), `irisx-e2e-${tag}-`));
}

function rmDir(dir) {
	if (!KEEP && dir)
		fs.rmSync(dir, { recursive: true, force: true });
}

/* A port the kernel just handed out (listen on 0, close, reuse the number). */
function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.unref();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

function binaryCheck() {
	if (!fs.existsSync(BIN))
		throw new Error(`irisx binary not found at ${BIN} (build it or set IRISX_BIN)`);
}

function waitExit(child, ms) {
	return new Promise((resolve) => {
		if (child.exitCode !== null || child.signalCode !== null)
			return resolve(true);
		const t = setTimeout(() => resolve(false), ms);
		child.once('exit', () => {
			clearTimeout(t);
			resolve(true);
		});
	});
}

// ---- HTTP ----

/* One request with fetch. o: json (object to send), body (raw), token (Bearer), basic
   ([user, pass]), headers, timeout ms. Returns {status, headers, body (parsed JSON or null),
   text, h(name)}. */
async function request(base, method, p, o = {}) {
	const headers = { ...(o.headers || {}) };
	if (o.token)
		headers.authorization = `Bearer ${o.token}`;
	if (o.basic)
		headers.authorization =
			'Basic ' + Buffer.from(`${o.basic[0]}:${o.basic[1]}`).toString('base64');
	let body = o.body;
	if (o.json !== undefined) {
		body = JSON.stringify(o.json);
		if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
			headers['content-type'] = 'application/json';
	}
	const go = () => fetch(base + p, { method, headers, body, signal: AbortSignal.timeout(o.timeout || 30000) });
	let res;
	try {
		res = await go();
	} catch (e) {
		// A pooled keep-alive connection the server closed for idleness just as it was reused
		// (the usual keep-alive race): retry a GET once on a new connection, as browsers do.
		const code = e.cause && e.cause.code;
		if (!['GET', 'HEAD'].includes(method) || !['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(code))
			throw e;
		res = await go();
	}
	const text = await res.text();
	let json = null;
	try {
		json = text ? JSON.parse(text) : null;
	} catch {}
	return { status: res.status, headers: res.headers, body: json, text, h: (n) => res.headers.get(n), method, path: p };
}

function describeRes(res) {
	return `${res.method || ''} ${res.path || ''} -> ${res.status} ${String(res.text).slice(0, 600)}`;
}

/* Asserts the status (a number or a list of allowed ones). */
function expectStatus(res, status, what = '') {
	const ok = Array.isArray(status) ? status.includes(res.status) : res.status === status;
	assert.ok(ok, `${what ? what + ': ' : ''}expected HTTP ${status}, got ${describeRes(res)}`);
	return res.body;
}

/* Asserts an error answer {"error":{"code","message","field"}}. */
function expectError(res, status, code, field) {
	expectStatus(res, status, `error ${code || ''}`);
	const e = res.body && res.body.error;
	assert.ok(e && typeof e === 'object', `error body missing: ${describeRes(res)}`);
	assert.equal(typeof e.message, 'string', `error.message not a string: ${describeRes(res)}`);
	if (code !== undefined) {
		const codes = Array.isArray(code) ? code : [code];
		assert.ok(codes.includes(e.code), `expected error code ${codes.join('|')}, got ${describeRes(res)}`);
	}
	if (field !== undefined)
		assert.equal(e.field, field, `expected error.field ${field}: ${describeRes(res)}`);
	return e;
}

// ---- raw sockets ----

/* Sends chunks (strings or Buffers; a number means "pause that many ms") on one TCP
   connection and collects everything until the server closes or idleMs of silence (after
   the last chunk). Returns {data, closed, error, statuses (status lines seen), ms}. */
/* Status codes of the responses in a raw byte stream, read as an HTTP/1.1 client would:
   status line, headers, then Content-Length (or chunked) body, then the next response. */
function parseStatuses(data) {
	const out = [];
	let pos = 0;
	while (pos < data.length) {
		const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(data.slice(pos, pos + 256));
		if (!m)
			break;
		out.push(+m[1]);
		const end = data.indexOf('\r\n\r\n', pos);
		if (end < 0)
			break;
		const head = data.slice(pos, end);
		pos = end + 4;
		const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
		if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
			for (;;) {
				const eol = data.indexOf('\r\n', pos);
				if (eol < 0)
					return out;
				const n = parseInt(data.slice(pos, eol), 16);
				pos = eol + 2 + n + 2;
				if (!n)
					break;
			}
		} else if (cl) {
			pos += +cl[1];
		} else if (+m[1] >= 200 && +m[1] !== 204 && +m[1] !== 304) {
			break; /* body runs to the close */
		}
	}
	return out;
}

function rawExchange(port, chunks, { idleMs = 1500, maxMs = 15000, host = '127.0.0.1' } = {}) {
	return new Promise((resolve) => {
		const t0 = Date.now();
		const sock = net.connect({ port, host });
		const bufs = [];
		let closed = false,
			error = null,
			done = false,
			idleTimer = null,
			sentAll = false;
		const finish = () => {
			if (done)
				return;
			done = true;
			clearTimeout(idleTimer);
			clearTimeout(maxTimer);
			sock.destroy();
			const data = Buffer.concat(bufs).toString('latin1');
			const statuses = parseStatuses(data);
			resolve({ data, closed, error, statuses, ms: Date.now() - t0 });
		};
		const arm = () => {
			if (!sentAll)
				return;
			clearTimeout(idleTimer);
			idleTimer = setTimeout(finish, idleMs);
		};
		const maxTimer = setTimeout(finish, maxMs);
		sock.on('data', (d) => {
			bufs.push(d);
			arm();
		});
		sock.on('end', () => {
			closed = true;
			finish();
		});
		sock.on('close', () => {
			closed = true;
			finish();
		});
		sock.on('error', (e) => {
			error = e.code || String(e);
			closed = true;
			finish();
		});
		sock.on('connect', async () => {
			for (const c of chunks) {
				if (done)
					return;
				if (typeof c === 'number')
					await sleep(c);
				else
					await new Promise((r) => sock.write(c, () => r()));
			}
			sentAll = true;
			arm();
		});
	});
}

// ---- JWT ----

const b64u = (b) => Buffer.from(b).toString('base64url');
const jsonSeg = (o) => b64u(JSON.stringify(o));

function jwtDecode(tok) {
	const [h, p, s] = tok.split('.');
	return {
		header: JSON.parse(Buffer.from(h, 'base64url').toString()),
		payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
		parts: [h, p, s],
	};
}

function jwtSign(header, payload, key) {
	const input = `${jsonSeg(header)}.${jsonSeg(payload)}`;
	const sig = crypto.createHmac('sha256', key).update(input).digest();
	return `${input}.${b64u(sig)}`;
}

// ---- the server ----

class Server {
	constructor(opts = {}) {
		this.opts = opts;
		this.env = { ...(opts.env || {}) };
		this.dataDir = opts.dataDir || tmpDir(opts.tag || 'srv');
		this.ownDir = !opts.dataDir;
		this.dbPath = path.join(this.dataDir, 'irisx.db');
		this.pg = opts.pg || null; // {url, migrateUrl}
		this.logs = ''; // stderr of every run of this server, concatenated
		this.stdout = '';
		this.child = null;
		this.port = 0;
		this.url = '';
		// on NATS every server gets a stream of its own (kept across restarts): servers of
		// different tests share one nats-server
		this.natsStream = `E2E_${rand(6)}`;
	}

	fullEnv(extra = {}) {
		const env = {};
		for (const [k, v] of Object.entries(process.env))
			if (!k.startsWith('IRISX_'))
				env[k] = v;
		Object.assign(env, {
			IRISX_DATA_DIR: this.dataDir,
			IRISX_AUTH_ARGON2_M_KIB: '1024',
			IRISX_AUTH_ARGON2_T_COST: '1',
			IRISX_LOG_LEVEL: 'info',
			// the tests read reset/verification tokens from the outbox (no mailer yet)
			IRISX_AUTH_OUTBOX_REVEAL: 'true',
			// the voice engine binds SIP and RTP ports: off unless a test asks for it
			IRISX_VOICE_ENABLED: 'false',
		});
		// IRISX_E2E_BUS_URL runs every server of the suite on that bus (e.g. nats://...)
		if (process.env.IRISX_E2E_BUS_URL)
			env.IRISX_BUS_URL = process.env.IRISX_E2E_BUS_URL;
		// IRISX_E2E_HTTP_THREADS=N runs every server with http.threads = N (0: a thread per
		// connection) unless its test sets its own
		if (process.env.IRISX_E2E_HTTP_THREADS)
			env.IRISX_HTTP_THREADS = process.env.IRISX_E2E_HTTP_THREADS;
		if (this.pg) {
			env.IRISX_DATABASE_URL = this.pg.url;
			env.IRISX_DATABASE_MIGRATE_URL = this.pg.migrateUrl;
			env.IRISX_DATABASE_APP_ROLE = 'irisx_app';
		}
		Object.assign(env, this.env, extra);
		if (/^(nats|tls):/.test(env.IRISX_BUS_URL || '') && !env.IRISX_BUS_NATS_STREAM)
			env.IRISX_BUS_NATS_STREAM = this.natsStream;
		return env;
	}

	/* Runs `irisx <args>` with this server's environment (cwd = data dir, so no stray
	   irisx.conf is read). */
	cli(args, extraEnv = {}) {
		binaryCheck();
		const r = spawnSync(BIN, args, {
			cwd: this.dataDir,
			env: this.fullEnv(extraEnv),
			encoding: 'utf8',
			timeout: 60000,
		});
		this.logs += r.stderr || '';
		return r;
	}

	async start(extraEnv = {}) {
		binaryCheck();
		Object.assign(this.env, extraEnv);
		let lastErr;
		for (let attempt = 0; attempt < 4; attempt++) {
			this.port = await freePort();
			this.url = `http://127.0.0.1:${this.port}`;
			const env = this.fullEnv({ IRISX_HTTP_LISTEN: `127.0.0.1:${this.port}` });
			const child = spawn(BIN, ['serve'], { cwd: this.dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
			children.add(child);
			this.child = child;
			const startLen = this.logs.length;
			child.stderr.setEncoding('utf8');
			child.stdout.setEncoding('utf8');
			child.stderr.on('data', (d) => (this.logs += d));
			if (process.env.IRISX_E2E_LOG_DIR)
				child.stderr.on('data', (d) => fs.appendFileSync(path.join(process.env.IRISX_E2E_LOG_DIR, `${this.opts.tag || 'srv'}-${process.pid}.log`), d));
			child.stdout.on('data', (d) => (this.stdout += d));
			child.on('exit', () => children.delete(child));
			try {
				await this.waitReady(child, 30000);
				return this;
			} catch (e) {
				lastErr = e;
				try {
					child.kill('SIGKILL');
				} catch {}
				await waitExit(child, 5000);
				const tail = this.logs.slice(startLen);
				if (!/in use|bind|EADDRINUSE|listen/i.test(tail))
					break;
			}
		}
		throw lastErr;
	}

	async waitReady(child, ms) {
		const deadline = Date.now() + ms;
		while (Date.now() < deadline) {
			if (child.exitCode !== null || child.signalCode !== null)
				throw new Error(
					`irisx serve exited (code ${child.exitCode}, signal ${child.signalCode}) before ready:\n${this.logs.slice(-3000)}`
				);
			try {
				const r = await fetch(this.url + '/healthz', { signal: AbortSignal.timeout(1000) });
				await r.text();
				if (r.status === 200)
					return;
			} catch {}
			await sleep(50);
		}
		throw new Error(`irisx serve not ready after ${ms} ms:\n${this.logs.slice(-3000)}`);
	}

	get pid() {
		return this.child ? this.child.pid : 0;
	}

	alive() {
		return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
	}

	/* SIGTERM, then SIGKILL after 10 s. Returns {code, signal, graceful}. */
	async stop() {
		const c = this.child;
		if (!c || !this.alive())
			return { code: c && c.exitCode, signal: c && c.signalCode, graceful: true };
		c.kill('SIGTERM');
		let graceful = await waitExit(c, 10000);
		if (!graceful) {
			c.kill('SIGKILL');
			await waitExit(c, 5000);
		}
		// a clean shutdown exits 0 within 10 s; anything else fails the file in cleanup()
		if (!graceful || c.exitCode !== 0)
			(this.stopProblems = this.stopProblems || []).push(
				graceful ? `exited with code ${c.exitCode} (signal ${c.signalCode}) after SIGTERM` : 'still running 10 s after SIGTERM'
			);
		return { code: c.exitCode, signal: c.signalCode, graceful };
	}

	async kill9() {
		const c = this.child;
		if (!c || !this.alive())
			return;
		c.kill('SIGKILL');
		await waitExit(c, 5000);
	}

	async restart(extraEnv = {}) {
		await this.stop();
		await this.start(extraEnv);
		if (this.admin)
			await this.loginAdmin();
		return this;
	}

	async cleanup() {
		await this.stop();
		if (this.ownDir)
			rmDir(this.dataDir);
		// under the ASan+UBSan build (IRISX_BIN=build-asan/irisx) a report fails the file, and
		// so does a failed assertion (that build keeps them): the process aborted on its own
		const m = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|: Assertion `[^\n]*' failed/.exec(this.logs);
		if (m)
			throw new Error(`sanitizer report in the server's log:\n${this.logs.slice(Math.max(0, m.index - 200), m.index + 3000)}`);
		if (this.stopProblems && this.stopProblems.length)
			throw new Error(`irisx serve did not shut down cleanly: ${this.stopProblems.join('; ')}\n${this.logs.slice(-1500)}`);
	}

	req(method, p, o) {
		return request(this.url, method, p, o);
	}

	// -- platform admin (created with the CLI before serving) --

	createPlatformAdmin() {
		const email = uniqEmail('platform');
		const r = this.cli(['admin', 'create-platform-admin', '--email', email, '--password', PASSWORD]);
		if (r.status !== 0)
			throw new Error(`create-platform-admin failed (${r.status}): ${r.stdout}\n${r.stderr}`);
		this.admin = { email, password: PASSWORD };
	}

	async loginAdmin() {
		const r = await this.req('POST', '/v1/auth/login', { json: { email: this.admin.email, password: this.admin.password } });
		expectStatus(r, 200, 'platform admin login');
		this.admin.token = r.body.access_token;
		return this.admin.token;
	}

	get adminToken() {
		return this.admin && this.admin.token;
	}
}

/* Starts a server. opts: env, admin (create a platform admin first and log it in), pg
   ({url, migrateUrl}), tag, dataDir. */
async function startServer(opts = {}) {
	const s = new Server(opts);
	try {
		if (opts.admin)
			s.createPlatformAdmin();
		await s.start();
		if (opts.admin)
			await s.loginAdmin();
	} catch (e) {
		await s.cleanup();
		throw e;
	}
	return s;
}

// ---- tenants, users, keys ----

async function registerTenant(srv, o = {}) {
	const email = o.email || uniqEmail(o.tag || 'owner');
	const password = o.password || PASSWORD;
	const json = { email, password, name: o.name || `Tenant ${rand(3)}` };
	if (o.full_name)
		json.full_name = o.full_name;
	const res = await srv.req('POST', '/v1/auth/register', { json });
	expectStatus(res, 201, 'register');
	const b = res.body;
	return {
		email,
		password,
		body: b,
		token: b.access_token,
		refresh: b.refresh_token,
		tenantId: b.tenant && b.tenant.id,
		userId: b.user && b.user.id,
	};
}

async function login(srv, email, password = PASSWORD) {
	const res = await srv.req('POST', '/v1/auth/login', { json: { email, password } });
	expectStatus(res, 200, `login ${email}`);
	return res.body;
}

async function createKey(srv, token, o = {}) {
	const json = { name: o.name || `key-${rand(3)}` };
	if (o.role)
		json.role = o.role;
	const res = await srv.req('POST', '/v1/api-keys', { json, token });
	expectStatus(res, 201, `create api key ${JSON.stringify(json)}`);
	return res.body;
}

/* Follows next_cursor to the end; returns every item. */
async function listAll(srv, p, auth, limit = 200) {
	const out = [];
	let cursor = null;
	for (let i = 0; i < 1000; i++) {
		const sep = p.includes('?') ? '&' : '?';
		const q = `${p}${sep}limit=${limit}${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`;
		const res = await srv.req('GET', q, auth);
		expectStatus(res, 200, `list ${q}`);
		assert.ok(Array.isArray(res.body.data), `list ${q}: no data array: ${res.text.slice(0, 300)}`);
		out.push(...res.body.data);
		cursor = res.body.next_cursor;
		if (!cursor)
			return out;
	}
	throw new Error(`list ${p} never ended`);
}

/* The token in the newest outbox mail of that kind to that address (platform admin reads
   the outbox). The body ends with a line "token: <token>". */
async function mailToken(srv, to, kind) {
	const mails = await listAll(srv, '/v1/admin/email-outbox', { token: srv.adminToken });
	const mine = mails.filter((m) => m.to_addr === to.toLowerCase() && m.kind === kind);
	assert.ok(mine.length > 0, `no ${kind} mail to ${to} in the outbox (${mails.length} mails)`);
	mine.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
	const m = mine[mine.length - 1];
	const found = [...m.body.matchAll(/token: (\S+)/g)];
	assert.ok(found.length > 0, `no "token: " line in mail body: ${m.body}`);
	return { token: found[found.length - 1][1], mail: m, count: mine.length };
}

// ---- SQLite ----

function sqlite(db, sql, { json = false, readonly = true } = {}) {
	const args = [];
	if (readonly)
		args.push('-readonly');
	if (json)
		args.push('-json');
	args.push(db, sql);
	const r = spawnSync('sqlite3', args, { encoding: 'utf8', timeout: 60000 });
	if (r.status !== 0)
		throw new Error(`sqlite3 ${sql}: ${r.stderr}`);
	return json ? JSON.parse(r.stdout || '[]') : r.stdout.trim();
}

// ---- PostgreSQL ----

const PG_SCRIPT = path.join(repoRoot, 'scripts', 'pg-test.sh');

function run(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, ...opts });
	if (r.status !== 0)
		throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stdout}\n${r.stderr}`);
	return r.stdout;
}

function parseVars(out) {
	const v = {};
	for (const line of out.split('\n')) {
		const m = line.trim().match(/^(?:export\s+)?([A-Z0-9_]+)=['"]?([^'"\s]+)['"]?$/);
		if (m)
			v[m[1]] = m[2];
	}
	return v;
}

/* Our own throwaway cluster when scripts/pg-test.sh is not there: trust auth on
   127.0.0.1, a role owning the tables (irisx_owner) and the app role (irisx_app). */
const pgFallback = {
	asPg: ['--reuid=postgres', '--regid=postgres', '--init-groups'],
	start(dir, port) {
		const data = path.join(dir, 'data');
		fs.chmodSync(dir, 0o755);
		fs.mkdirSync(data, { mode: 0o700 });
		const ids = run('id', ['-u', 'postgres']).trim();
		const gid = run('id', ['-g', 'postgres']).trim();
		fs.chownSync(dir, +ids, +gid);
		fs.chownSync(data, +ids, +gid);
		run('setpriv', [...this.asPg, 'initdb', '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
		run('setpriv', [
			...this.asPg, 'pg_ctl', '-D', data, '-l', path.join(dir, 'pg.log'), '-w', '-t', '60',
			'-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`, 'start',
		]);
		this.psql(port, 'postgres', 'CREATE ROLE irisx_owner LOGIN; CREATE ROLE irisx_app LOGIN;');
	},
	psql(port, db, sql) {
		return run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-c', sql]);
	},
	createdb(dir, port, name) {
		this.psql(port, 'postgres', `CREATE DATABASE ${name} OWNER irisx_owner`);
		return {
			url: `postgres://irisx_app@127.0.0.1:${port}/${name}`,
			migrateUrl: `postgres://irisx_owner@127.0.0.1:${port}/${name}`,
		};
	},
	stop(dir) {
		run('setpriv', [...this.asPg, 'pg_ctl', '-D', path.join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
	},
};

/* A cluster: the one `make test` exported (IRISX_TEST_PG_DIR/PORT), else one of our own,
   stopped by stop(). */
async function pgCluster() {
	if (process.env.IRISX_TEST_PG_DIR && process.env.IRISX_TEST_PG_PORT)
		return { dir: process.env.IRISX_TEST_PG_DIR, port: +process.env.IRISX_TEST_PG_PORT, own: false, stop() {} };
	const dir = tmpDir('pg');
	const port = await freePort();
	const viaScript = fs.existsSync(PG_SCRIPT);
	if (viaScript)
		run('bash', [PG_SCRIPT, 'start', dir, String(port)]);
	else
		pgFallback.start(dir, port);
	return {
		dir,
		port,
		own: true,
		viaScript,
		stop() {
			try {
				if (viaScript)
					run('bash', [PG_SCRIPT, 'stop', dir]);
				else
					pgFallback.stop(dir);
			} finally {
				rmDir(dir);
			}
		},
	};
}

/* A fresh database in the cluster: {url (app role), migrateUrl (owner role)}. */
function pgCreateDb(cluster, name) {
	if (!fs.existsSync(PG_SCRIPT))
		return pgFallback.createdb(cluster.dir, cluster.port, name);
	const out = run('bash', [PG_SCRIPT, 'createdb', cluster.dir, String(cluster.port), name]);
	const v = parseVars(out);
	const keys = Object.keys(v).filter((k) => /^postgres(ql)?:\/\//.test(v[k]));
	const mig = keys.find((k) => /MIGRATE/.test(k));
	const app = keys.find((k) => !/MIGRATE|ADMIN/.test(k));
	if (!app || !mig)
		throw new Error(`pg-test.sh createdb printed no URLs: ${out}`);
	return { url: v[app], migrateUrl: v[mig], vars: v };
}

// ---- the route table (src/api/routes.c is the source of truth) ----

function routeTable() {
	const src = fs.readFileSync(path.join(repoRoot, 'src', 'api', 'routes.c'), 'utf8');
	return [...src.matchAll(/\{\s*"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)"\s*,\s*"([^"]+)"/g)].map((m) => ({
		method: m[1],
		path: m[2],
	}));
}

/* Sends n requests (method, path, o.token, o.json) over `concurrency` keep-alive
   connections with node:http (much faster than fetch for load); returns [{status, body}]
   in completion order; a connection error counts as status 0. */
async function hammer(base, method, p, { token, json, n = 1, concurrency = 32, timeout = 20000 } = {}) {
	const http = require('node:http');
	const u = new URL(base);
	const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
	const data = json === undefined ? null : JSON.stringify(json);
	const headers = {};
	if (token)
		headers.authorization = `Bearer ${token}`;
	if (data) {
		headers['content-type'] = 'application/json';
		headers['content-length'] = Buffer.byteLength(data);
	}
	const one = () =>
		new Promise((resolve) => {
			const q = http.request({ host: u.hostname, port: u.port, method, path: p, agent, headers, timeout }, (r) => {
				const chunks = [];
				r.on('data', (d) => chunks.push(d));
				r.on('end', () => {
					let body = null;
					try {
						body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
					} catch {}
					resolve({ status: r.statusCode, body });
				});
				r.on('error', () => resolve({ status: 0, body: null }));
			});
			q.on('timeout', () => q.destroy(new Error('timeout')));
			q.on('error', () => resolve({ status: 0, body: null }));
			if (data)
				q.write(data);
			q.end();
		});
	const out = [];
	let next = 0;
	await Promise.all(
		Array.from({ length: Math.min(concurrency, n) }, async () => {
			while (next < n) {
				next++;
				out.push(await one());
			}
		})
	);
	agent.destroy();
	return out;
}

/* Runs fn over items with at most n in flight. */
async function pool(items, n, fn) {
	const out = new Array(items.length);
	let next = 0;
	const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
		while (next < items.length) {
			const i = next++;
			out[i] = await fn(items[i], i);
		}
	});
	await Promise.all(workers);
	return out;
}

module.exports = {
	BIN,
	repoRoot,
	PASSWORD,
	ID_RE,
	RFC3339_RE,
	Server,
	startServer,
	request,
	expectStatus,
	expectError,
	describeRes,
	rawExchange,
	registerTenant,
	login,
	createKey,
	listAll,
	mailToken,
	sqlite,
	pgCluster,
	pgCreateDb,
	routeTable,
	hammer,
	jwtDecode,
	jwtSign,
	jsonSeg,
	b64u,
	freePort,
	sleep,
	rand,
	uniqEmail,
	tmpDir,
	rmDir,
	pool,
};
