// gen.js: writes the TwiML fixtures of test_cdoc.c with the real twilio SDK (VoiceResponse).
// Run from tests/e2e (where node_modules/twilio is): node ../unit/calls/twiml/gen.js
const fs = require('fs');
const path = require('path');
// resolved from the working directory (tests/e2e), not from this file's folder
const { twiml } = require(require.resolve('twilio', { paths: [process.cwd()] }));

const out = (name, r) => fs.writeFileSync(path.join(__dirname, name + '.xml'), r.toString() + '\n');

let r = new twiml.VoiceResponse();
r.say({ voice: 'Polly.Joanna', language: 'en-US', loop: 2 }, 'Hello & welcome <caller>');
r.play({ loop: 3 }, 'https://example.com/a.mp3');
r.play({ digits: 'ww1234#' });
r.pause({ length: 7 });
r.hangup();
out('basic', r);

r = new twiml.VoiceResponse();
const g = r.gather({ input: 'dtmf speech', action: '/ivr/next', method: 'GET', timeout: 9,
  finishOnKey: '*', numDigits: 4, actionOnEmptyResult: true, hints: 'sales, support',
  speechTimeout: 'auto', bargeIn: false });
g.say('Press one');
g.play('https://example.com/menu.wav');
g.pause({ length: 2 });
r.redirect({ method: 'GET' }, 'https://example.com/again');
out('gather', r);

r = new twiml.VoiceResponse();
r.record({ action: '/rec/done', method: 'POST', timeout: 10, finishOnKey: '#', maxLength: 120,
  playBeep: false, trim: 'do-not-trim', recordingStatusCallback: 'https://example.com/rs',
  recordingStatusCallbackMethod: 'GET' });
r.reject({ reason: 'busy' });
out('record', r);

r = new twiml.VoiceResponse();
const d = r.dial({ action: '/dial/done', method: 'POST', timeout: 20, timeLimit: 600,
  callerId: '+15550001111', record: 'record-from-answer-dual', trim: 'trim-silence',
  answerOnBridge: true, sequential: true, hangupOnStar: true,
  recordingStatusCallback: 'https://example.com/drs' });
d.number({ sendDigits: 'wwww1928', url: 'https://example.com/whisper', method: 'GET',
  statusCallback: 'https://example.com/ns', statusCallbackMethod: 'POST',
  statusCallbackEvent: 'initiated ringing answered completed' }, '+15551234567');
d.sip({ username: 'alice', password: 's3cret', statusCallbackEvent: 'answered' },
  'sip:bob@example.com;transport=tcp');
d.client({ url: 'https://example.com/cw' }, 'carol');
const c = d.client();
c.identity('dave');
c.parameter({ name: 'FirstName', value: 'Dave' });
out('dial', r);

r = new twiml.VoiceResponse();
r.dial('+15559876543');
const s = r.say({ voice: 'alice' }, 'Hi ');
s.break({ time: '1s' });
s.emphasis({ level: 'strong' }, 'there');
s.sayAs({ 'interpret-as': 'digits' }, '123');
s.prosody({ rate: 'slow' }, 'slowly');
out('ssml', r);
