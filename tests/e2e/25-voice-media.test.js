// 25-voice-media: the media primitives against real peers. baresip (a real phone) calls the
// engine inside a private network namespace (unshare -n: baresip puts its primary address in
// its SDP, study trap 11), hears a spoken prompt, presses 42#, and talks (a 700 Hz source)
// while the engine records; then SIPp without telephone-event echoes the engine's in-band
// DTMF back to it. Every process is ours, stopped by PID.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { Uas, sipp, UAS } = require('./lib/voice');
const { tmpDir, rmDir } = require('./lib/harness');

/* ---- WAV files ---- */

function writeWav(file, samples) {
	const data = Buffer.alloc(samples.length * 2);
	samples.forEach((v, i) => data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), i * 2));
	const h = Buffer.alloc(44);
	h.write('RIFF', 0);
	h.writeUInt32LE(36 + data.length, 4);
	h.write('WAVEfmt ', 8);
	h.writeUInt32LE(16, 16);
	h.writeUInt16LE(1, 20); // PCM
	h.writeUInt16LE(1, 22); // mono
	h.writeUInt32LE(8000, 24);
	h.writeUInt32LE(16000, 28);
	h.writeUInt16LE(2, 32);
	h.writeUInt16LE(16, 34);
	h.write('data', 36);
	h.writeUInt32LE(data.length, 40);
	fs.writeFileSync(file, Buffer.concat([h, data]));
}

function readWav(file) {
	const b = fs.readFileSync(file);
	let rate = 0;
	for (let i = 12; i + 8 <= b.length; ) {
		const id = b.toString('latin1', i, i + 4);
		const n = b.readUInt32LE(i + 4);
		if (id === 'fmt ')
			rate = b.readUInt32LE(i + 12);
		if (id === 'data') {
			const s = new Int16Array(Math.floor(Math.min(n, b.length - i - 8) / 2));
			for (let k = 0; k < s.length; k++)
				s[k] = b.readInt16LE(i + 8 + 2 * k);
			return { rate, s };
		}
		i += 8 + n + (n & 1);
	}
	throw new Error(`${file}: no data chunk`);
}

// level in dBFS (RMS against full scale) and frequency from zero crossings
function dbfs(s) {
	let sum = 0;
	for (const v of s)
		sum += v * v;
	return sum ? 10 * Math.log10(sum / s.length / 32768 ** 2) : -100;
}

function hz(s) {
	let c = 0;
	for (let i = 1; i < s.length; i++)
		if (s[i - 1] < 0 !== s[i] < 0)
			c++;
	return c / 2 / (s.length / 8000);
}

const sine = (f, level, n) => Array.from({ length: n }, (_, i) => 32768 * 10 ** (level / 20) * Math.SQRT2 * Math.sin((2 * Math.PI * f * i) / 8000));

/* ---- baresip in a network namespace ---- */

function baresipUsable() {
	if (spawnSync('sh', ['-c', 'command -v baresip']).status !== 0)
		return 'baresip not installed (scripts/deps.sh)';
	if (spawnSync('unshare', ['-n', 'true']).status !== 0)
		return 'unshare -n not permitted';
	return null;
}

test('baresip calls in: hears the spoken prompt, 42# is collected, its voice is recorded', { skip: baresipUsable() || false, timeout: 60000 }, async () => {
	const dir = tmpDir('bs');
	try {
		for (const d of ['cfg', 'rec', 'snd'])
			fs.mkdirSync(path.join(dir, d));
		writeWav(path.join(dir, 'src.wav'), sine(700, -16, 8000 * 20));
		fs.writeFileSync(path.join(dir, 'cfg', 'config'), [
			'sip_listen 127.0.0.1:5062', `audio_source aufile,${dir}/src.wav`, 'audio_player aubridge,nil',
			'audio_alert aubridge,nil', 'audio_srate 8000', 'rtp_ports 30000-30999',
			'module_path /usr/lib/baresip/modules', 'module g711.so', 'module aufile.so', 'module aubridge.so',
			'module sndfile.so', 'module cons.so', 'cons_listen 127.0.0.1:5555', `snd_path ${dir}/snd`,
			'module_app account.so', 'module_app menu.so', '',
		].join('\n'));
		fs.writeFileSync(path.join(dir, 'cfg', 'accounts'), '<sip:bs@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU\n');
		fs.writeFileSync(path.join(dir, 'cfg', 'contacts'), '');
		// inside the namespace: the engine, then baresip; digits once the prompt has played
		fs.writeFileSync(path.join(dir, 'run.sh'), `#!/bin/bash
ip link set lo up; ip route add default dev lo
"${UAS}" --port 5080 --rtp-min 40000 --rtp-max 40099 --max-calls 10 --no-tcp \\
  --ivr "Welcome to IRISX. Please enter your code, then press pound." \\
  --record-dir "${dir}/rec" --record-ms 3000 >"${dir}/uas.out" 2>"${dir}/uas.err" &
UP=$!
for i in $(seq 100); do grep -q READY "${dir}/uas.out" && break; sleep 0.1; done
baresip -f "${dir}/cfg" -t 16 -e "/dial sip:svc@127.0.0.1:5080" >"${dir}/bs.out" 2>&1 &
BP=$!
for i in $(seq 150); do grep -q PLAY_DONE "${dir}/uas.out" && break; sleep 0.1; done
printf '/sndcode 42#\\n' >/dev/udp/127.0.0.1/5555
for i in $(seq 150); do grep -q HANGUP "${dir}/uas.out" && break; sleep 0.1; done
kill -TERM $BP 2>/dev/null; wait $BP
kill -TERM $UP; wait $UP
echo "uas_exit=$?"
`);
		const c = spawn('unshare', ['-n', 'bash', path.join(dir, 'run.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		c.stdout.on('data', (d) => (out += d));
		c.stderr.on('data', (d) => (out += d));
		const code = await new Promise((resolve) => {
			const t = setTimeout(() => {
				c.kill('SIGKILL');
				resolve(-1);
			}, 50000);
			c.on('exit', (x) => {
				clearTimeout(t);
				resolve(x);
			});
		});
		const uas = fs.readFileSync(path.join(dir, 'uas.out'), 'utf8');
		const err = fs.readFileSync(path.join(dir, 'uas.err'), 'utf8');
		const why = `\n--- run: ${out}\n--- uas:\n${uas}\n--- uas stderr:\n${err.slice(-2000)}\n--- baresip:\n${fs.readFileSync(path.join(dir, 'bs.out'), 'utf8').slice(-2000)}`;
		assert.equal(code, 0, why);
		assert.match(out, /uas_exit=0/, why);
		assert.doesNotMatch(err, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, why);
		assert.match(uas, /^ANSWERED call=1$/m, why);
		assert.match(uas, /^PLAY_DONE call=1 code=0$/m, why); // the prompt played out
		assert.match(uas, /^COLLECTED call=1 code=1 digits=42$/m, why); // finish key '#'
		const rd = /^RECORD_DONE call=1 code=0 duration_ms=(\d+)$/m.exec(uas); // max length
		assert.ok(rd && +rd[1] >= 2900 && +rd[1] <= 3100, why);
		const q = /^QUALITY call=1 rx=(\d+) expected=(\d+) loss_rx=([\d.]+) .* mos=([\d.]+)$/m.exec(uas);
		assert.ok(q && +q[1] > 100 && +q[3] < 1 && +q[4] > 4, why);

		// the engine's recording is baresip's 700 Hz source, at its level
		const rec = readWav(path.join(dir, 'rec', 'call-1.wav'));
		assert.equal(rec.rate, 8000);
		const mid = rec.s.subarray(800, 8800);
		assert.ok(Math.abs(hz(mid) - 700) < 10, `recorded ${hz(mid)} Hz`);
		assert.ok(Math.abs(dbfs(mid) - -16) < 1.5, `recorded ${dbfs(mid)} dBFS`);

		// baresip's recording of what it heard: speech first (the prompt), then the 1 kHz beep
		const dec = fs.readdirSync(path.join(dir, 'snd')).find((f) => f.endsWith('-dec.wav'));
		assert.ok(dec, why);
		const heard = readWav(path.join(dir, 'snd', dec)).s;
		const speech = heard.subarray(0, 8000 * 3);
		assert.ok(dbfs(speech) > -30, `prompt level ${dbfs(speech)} dBFS`);
		// speech is voiced and unvoiced: the level moves between 100 ms windows, unlike a tone
		const win = [];
		for (let i = 0; i + 800 <= speech.length; i += 800)
			win.push(dbfs(speech.subarray(i, i + 800)));
		assert.ok(Math.max(...win) - Math.min(...win) > 10, `prompt windows ${win.map((x) => x.toFixed(0))}`);
		let beep = false;
		for (let i = 8000 * 2; i + 1600 <= heard.length && !beep; i += 400) {
			const w = heard.subarray(i, i + 1600);
			beep = Math.abs(hz(w) - 1000) < 20 && dbfs(w) > -20;
		}
		assert.ok(beep, 'the record beep was heard');
	} finally {
		rmDir(dir);
	}
});

/* A DTMF clip as audio: 100 ms tones at -10 dBm0 per frequency, 100 ms gaps. */
function dtmfWav(file, digits) {
	const low = { 1: 697, 2: 697, 3: 697, 4: 770, 5: 770, 6: 770, 7: 852, 8: 852, 9: 852, '*': 941, 0: 941, '#': 941 };
	const high = { 1: 1209, 2: 1336, 3: 1477, 4: 1209, 5: 1336, 6: 1477, 7: 1209, 8: 1336, 9: 1477, '*': 1209, 0: 1336, '#': 1477 };
	let s = new Array(2400).fill(0);
	for (const d of digits) {
		const a = sine(low[d], -16.15, 800), b = sine(high[d], -16.15, 800);
		s = s.concat(a.map((v, i) => v + b[i]), new Array(800).fill(0));
	}
	writeWav(file, s);
}

test('in-band DTMF: SIPp offers no telephone-event and echoes the engine\'s tones; the digits are detected', { timeout: 30000 }, async () => {
	const dir = tmpDir('inband');
	try {
		const wav = path.join(dir, 'dtmf.wav');
		dtmfWav(wav, '1234#');
		const uas = await new Uas(['--rtp-min', '40400', '--rtp-max', '40499', '--max-calls', '10', '--wav', wav, '--collect']).start();
		try {
			// the stock uac offers PCMU only; -rtp_echo sends every packet back
			await sipp(uas, { calls: 1, rate: 1, hold: 6000, rtpEcho: true, timeout: 15 });
			await uas.waitFor(/^HANGUP call=1 .*cause=local$/m, 10000);
			assert.match(uas.out, /^COLLECTED call=1 code=1 digits=1234$/m);
		} catch (e) {
			await uas.kill();
			e.message += `\n${uas.out}\n${uas.err.slice(-2000)}`;
			throw e;
		}
		const digits = uas.lines(/^DTMF call=1 /).map((l) => l.slice(-1)).join('');
		assert.equal(digits, '1234#', uas.out);
		const q = /^QUALITY call=1 rx=(\d+) expected=(\d+) loss_rx=([\d.]+) .* mos=([\d.]+)$/m.exec(uas.out);
		assert.ok(q && +q[1] > 20 && +q[4] > 4, uas.out);
		const stats = await uas.stop();
		assert.equal(stats.rejected, 0);
	} finally {
		rmDir(dir);
	}
});
