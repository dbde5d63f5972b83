// calls_bench.js: the Calls figures of issue 6, one per line on stdout as NAME VALUE UNIT
// (progress on stderr). Run by bench/calls.sh. Everything on 127.0.0.1, started here and
// stopped by PID:
//   calls_inbound_<rate>            full-pipeline inbound calls per second: SIPp calls the
//                                   tenant's number, the document is fetched from a local
//                                   HTTP server (Say, cached, then Hangup), the call record
//                                   is written and the completed status callback delivered
//   calls_inbound_<rate>_failed     SIPp's failed calls
//   calls_inbound_<rate>_records    call records closed / calls placed
//   calls_inbound_<rate>_callbacks  completed callbacks received / calls placed
//   calls_api_invite_p50|p99        POST /v1/calls answered -> INVITE sent (the first
//                                   attempt's started_us), ms, at CALLS_API_RATE calls/s
//   calls_cps_limit_error           |measured - configured| / configured for a tenant at
//                                   CALLS_CPS_LIMIT calls/s (INVITE send times)
'use strict';

const path = require('node:path');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const h = require(path.join(__dirname, '..', 'tests', 'e2e', 'lib', 'harness'));
const { startReceiver } = require(path.join(__dirname, '..', 'tests', 'e2e', 'lib', 'receiver'));

const RATES = (process.env.CALLS_RATES || '100 200 300').split(/\s+/).filter(Boolean).map(Number);
const SECS = +(process.env.CALLS_SECONDS || 10);
const API_RATE = +(process.env.CALLS_API_RATE || 50);
const API_N = +(process.env.CALLS_API_N || 300);
const CPS = +(process.env.CALLS_CPS_LIMIT || 20);
const SCEN = path.join(__dirname, '..', 'tests', 'e2e', 'voice');
const NUM = '+15550009999';
const log = (...a) => console.error('calls_bench:', ...a);
const out = (n, v, u) => console.log(`${n} ${v} ${u}`);
const kids = new Set();
process.on('exit', () => {
	for (const c of kids)
		try {
			process.kill(c.pid, 'SIGKILL');
		} catch {}
});

function sipp(args, dir) {
	const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'ignore'] });
	kids.add(child);
	const done = new Promise((resolve) => {
		child.on('exit', () => {
			kids.delete(child);
			const f = fs.readdirSync(dir).find((n) => n.endsWith('_screen.log'));
			const s = f ? fs.readFileSync(path.join(dir, f), 'latin1') : '';
			const num = (re) => ((m) => (m ? +m[1] : -1))(re.exec(s));
			resolve({ ok: num(/Successful call\s*\|\s*\d+\s*\|\s*(\d+)/), failed: num(/Failed call\s*\|\s*\d+\s*\|\s*(\d+)/) });
		});
	});
	return { child, done };
}

const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];

async function main() {
	const vr = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thanks for calling.</Say><Hangup/></Response>';
	let completed = 0;
	const docs = await startReceiver((req) => {
		if (req.path === '/voice' || req.path === '/quick')
			return { status: 200, headers: { 'content-type': 'text/xml' }, body: req.path === '/quick' ? '<Response><Hangup/></Response>' : vr };
		if (req.path === '/status' && /CallStatus=completed/.test(req.body))
			completed++;
		return { status: 204 };
	});
	const sipPort = await h.freePort();
	const srv = await h.startServer({
		tag: 'cbench',
		admin: true,
		env: {
			IRISX_VOICE_ENABLED: 'true',
			IRISX_VOICE_SIP_PORT: String(sipPort),
			IRISX_VOICE_RTP_PORT_MIN: '30000',
			IRISX_VOICE_RTP_PORT_MAX: '39999',
			IRISX_VOICE_MAX_CALLS: '4000',
			IRISX_VOICE_TRUSTED_IPS: '127.0.0.1', // SIPp is the carrier here: no per-source limit
			IRISX_VOICE_CALLS_PER_SECOND: '1000',
			IRISX_VOICE_MAX_CONCURRENT_CALLS: '100000',
			IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
			IRISX_LOG_LEVEL: 'warn',
			IRISX_RATELIMIT_TENANT_RPS: '100000',
			IRISX_RATELIMIT_TENANT_BURST: '100000',
			IRISX_RATELIMIT_KEY_RPS: '100000',
			IRISX_RATELIMIT_KEY_BURST: '100000',
		},
	});
	try {
		const T = await h.registerTenant(srv, { tag: 'cbench' });
		const admin = (m, p, o = {}) => srv.req(m, p, { token: srv.adminToken, ...o });
		const n = h.expectStatus(await admin('POST', '/v1/admin/phone-numbers', { json: { number: NUM, tenant_id: T.tenantId } }), 201);
		h.expectStatus(await srv.req('PATCH', `/v1/phone-numbers/${n.id}`, { token: T.token, json: { voice_url: docs.url('/voice'), voice_status_callback: docs.url('/status') } }), 200);
		const dir = h.tmpDir('cbench');
		// one call alone first: its length (answer, prompt, hangup) is the tail each run has
		// after SIPp placed its last call, taken off the wall time below
		const d0 = path.join(dir, 'probe');
		fs.mkdirSync(d0);
		const p0 = Date.now();
		await sipp(['-sf', path.join(SCEN, 'uac_wait_bye.xml'), `127.0.0.1:${sipPort}`, '-s', NUM.slice(1), '-i', '127.0.0.1', '-p', String(await h.freePort()),
			'-mi', '127.0.0.1', '-mp', String(await h.freePort()), '-m', '1', '-nostdin', '-timeout', '30', '-trace_screen'], d0).done;
		const tail = (Date.now() - p0) / 1000;
		for (let i = 0; i < 50 && completed < 1; i++)
			await h.sleep(100); /* its callback, before the counts start */
		out('calls_inbound_call_length', tail.toFixed(2), 's');
		let placed = 1;
		for (const rate of RATES) {
			const N = rate * SECS;
			completed = 0;
			log(`${N} inbound calls at ${rate}/s`);
			const t0 = Date.now();
			const d = path.join(dir, `in${rate}`);
			fs.mkdirSync(d);
			const r = await sipp(['-sf', path.join(SCEN, 'uac_wait_bye.xml'), `127.0.0.1:${sipPort}`, '-s', NUM.slice(1), '-i', '127.0.0.1', '-p', String(await h.freePort()),
				'-mi', '127.0.0.1', '-mp', String(40000 + (rate % 1000) * 10), '-m', String(N), '-r', String(rate), '-l', '5000', '-nostdin', '-timeout', String(SECS + 60), '-trace_screen', '-trace_err'], d).done;
			const secs = (Date.now() - t0) / 1000;
			if (r.failed > 0 && process.env.CALLS_DEBUG) {
				const f = fs.readdirSync(d).find((x) => x.endsWith('_errors.log'));
				log('sipp errors:', f ? fs.readFileSync(path.join(d, f), 'latin1').slice(0, 3000) : 'none');
				log('server log:', srv.logs.slice(-4000));
			}
			// records and callbacks: wait for the tail to drain
			let closed = 0;
			for (let i = 0; i < 100; i++) {
				const all = await h.listAll(srv, '/v1/calls?direction=inbound', { token: T.token }).catch(() => []);
				closed = all.filter((c) => c.ended_at).length - placed;
				if (closed >= N && completed >= N)
					break;
				await h.sleep(200);
			}
			out(`calls_inbound_${rate}`, (r.ok / Math.max(0.001, secs - tail)).toFixed(0), 'calls/s');
			out(`calls_inbound_${rate}_failed`, r.failed, 'calls');
			out(`calls_inbound_${rate}_records`, `${Math.min(closed, N)}/${N}`, 'calls');
			out(`calls_inbound_${rate}_callbacks`, `${completed}/${N}`, 'calls');
			placed += N; /* the next rate counts its own calls only */
		}

		// outbound: POST /v1/calls -> INVITE latency, and the CPS limit
		const carrierDir = path.join(dir, 'carrier');
		fs.mkdirSync(carrierDir);
		const cport = await h.freePort();
		const far = sipp(['-sf', path.join(SCEN, 'uas_answer.xml'), '-i', '127.0.0.1', '-p', String(cport), '-mi', '127.0.0.1', '-mp', String(await h.freePort()),
			'-m', String(API_N + 100), '-nostdin', '-timeout', '120', '-trace_screen'], carrierDir);
		await h.sleep(300);
		const c = h.expectStatus(await admin('POST', '/v1/admin/carriers', { json: { name: 'bench', host: '127.0.0.1', port: cport, ping_ms: 0 } }), 201);
		h.expectStatus(await admin('PUT', `/v1/admin/carriers/${c.id}/rates`, { body: 'prefix,cost_per_min\n1,0.01\n', headers: { 'content-type': 'text/csv' } }), 200);
		const posted = [];
		log(`${API_N} outbound calls at ${API_RATE}/s`);
		const start = Date.now();
		for (let i = 0; i < API_N; i++) {
			const due = start + (i * 1000) / API_RATE;
			if (due > Date.now())
				await h.sleep(due - Date.now());
			const t = Date.now();
			srv.req('POST', '/v1/calls', { token: T.token, json: { from: NUM, to: `+1555${String(2000000 + i)}`, url: docs.url('/quick') } }).then((res) => {
				if (res.status === 201)
					posted.push({ id: res.body.id, at: t });
			});
		}
		await h.sleep(5000);
		const lat = [];
		for (const p of posted) {
			const row = (await srv.req('GET', `/v1/calls/${p.id}`, { token: T.token })).body;
			const a = row && row.attempts && row.attempts[0];
			if (a)
				lat.push(a.started_us / 1000 - p.at);
		}
		lat.sort((a, b) => a - b);
		out('calls_api_invite_p50', pct(lat, 50).toFixed(1), 'ms');
		out('calls_api_invite_p99', pct(lat, 99).toFixed(1), 'ms');
		out('calls_api_invite_n', lat.length, 'calls');

		h.expectStatus(await admin('PUT', `/v1/admin/tenants/${T.tenantId}/voice-settings`, { json: { calls_per_second: CPS } }), 200);
		const ids = [];
		const M = CPS * 3;
		for (let i = 0; i < M; i++)
			ids.push(h.expectStatus(await srv.req('POST', '/v1/calls', { token: T.token, json: { from: NUM, to: `+1555${String(3000000 + i)}`, url: docs.url('/quick') } }), 201).id);
		await h.sleep((M / CPS) * 1000 + 3000);
		const starts = [];
		for (const id of ids) {
			const row = (await srv.req('GET', `/v1/calls/${id}`, { token: T.token })).body;
			if (row.attempts && row.attempts[0])
				starts.push(row.attempts[0].started_us);
		}
		starts.sort((a, b) => a - b);
		const measured = (starts.length - 1) / ((starts[starts.length - 1] - starts[0]) / 1e6);
		out('calls_cps_limit_configured', CPS, 'calls/s');
		out('calls_cps_limit_measured', measured.toFixed(2), 'calls/s');
		out('calls_cps_limit_error', ((100 * Math.abs(measured - CPS)) / CPS).toFixed(1), '%');
		far.child.kill();
		await far.done;
		h.rmDir(dir);
	} finally {
		await srv.cleanup().catch((e) => log(e.message));
		await docs.close();
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
