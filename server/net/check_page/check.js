// turnpike's connection check: runs in the user's browser, tests each TURN URL the relay gives
// it (RTCPeerConnection with iceTransportPolicy "relay": a relay candidate, then a data channel
// between two peer connections of this page, both through the relay), shows a plain result and
// sends it back with the same one-time token. No framework, no third-party resource.
'use strict';

const GATHER_MS = 8000;   // a TURN server that never answers is given up on after this
const CONNECT_MS = 8000;  // from the relay candidates to an open data channel
const PINGS = 10;

const $ = (id) => document.getElementById(id);
const base = location.pathname.replace(/[^/]*$/, '');
const token = location.hash.replace(/^#/, '');

function setStatus(text) { $('status').textContent = text; }

async function api(name, body) {
  const response = await fetch(base + 'api/' + name, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
  });
  let data = {};
  try { data = await response.json(); } catch (e) { /* an empty or broken answer */ }
  if (!response.ok) throw new Error(data.error || ('the relay answered ' + response.status));
  return data;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  })]).finally(() => clearTimeout(timer));
}

// One URL: two peer connections of this page, relay candidates only, a data channel between
// them, PINGS messages echoed back.
async function testServer(server) {
  const result = { url: server.urls, via: server.via, outcome: 'error', candidates: [], rtt_ms: null,
                   error: '' };
  const config = { iceServers: [{ urls: server.urls, username: server.username,
                                  credential: server.credential }],
                   iceTransportPolicy: 'relay' };
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  const seen = new Set();
  // Both peer connections need a relay candidate; candidates wait until the other side has
  // its remote description.
  const relays = new Map([[a, 0], [b, 0]]);
  const waiting = new Map([[a, []], [b, []]]);
  let gotRelay;
  const relayed = new Promise((resolve) => { gotRelay = resolve; });
  const errors = [];
  const deliver = (to, c) => {
    if (to.remoteDescription) to.addIceCandidate(c).catch(() => {});
    else waiting.get(to).push(c);
  };
  const flush = (pc) => { for (const c of waiting.get(pc).splice(0)) pc.addIceCandidate(c).catch(() => {}); };
  for (const [pc, other] of [[a, b], [b, a]]) {
    pc.addEventListener('icecandidate', (e) => {
      if (!e.candidate) return;
      if (e.candidate.candidate) {
        const type = e.candidate.type || (/ typ (\w+)/.exec(e.candidate.candidate) || [])[1];
        const proto = e.candidate.relayProtocol ? '/' + e.candidate.relayProtocol : '';
        seen.add(type + proto);
        if (type === 'relay') {
          relays.set(pc, relays.get(pc) + 1);
          if (relays.get(a) && relays.get(b)) gotRelay();
        }
      }
      deliver(other, e.candidate);
    });
    pc.addEventListener('icecandidateerror', (e) => {
      errors.push((e.errorCode || '') + ' ' + (e.errorText || ''));
    });
  }
  try {
    const channel = a.createDataChannel('turnpike-check', { ordered: true });
    b.addEventListener('datachannel', (e) => {
      e.channel.addEventListener('message', (m) => e.channel.send(m.data));
    });
    const opened = new Promise((resolve) => channel.addEventListener('open', resolve));
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription);
    flush(b);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription);
    flush(a);
    try {
      await withTimeout(relayed, GATHER_MS, 'no relay candidate');
    } catch (e) {
      result.outcome = 'no-relay-candidate';
      result.error = errors.length ? 'ICE errors: ' + [...new Set(errors)].join('; ').trim()
                                   : 'no answer from the relay in ' + GATHER_MS / 1000 + ' s';
      return result;
    }
    try {
      await withTimeout(opened, CONNECT_MS, 'no connection');
    } catch (e) {
      result.outcome = 'no-connection';
      result.error = 'relay candidates, but the data channel did not open';
      return result;
    }
    const rtts = [];
    for (let i = 0; i < PINGS; i++) {
      const sent = performance.now();
      const echoed = new Promise((resolve) => channel.addEventListener('message', resolve, { once: true }));
      channel.send('ping ' + i);
      try {
        await withTimeout(echoed, 3000, 'no echo');
        rtts.push(performance.now() - sent);
      } catch (e) { /* lost */ }
    }
    if (!rtts.length) {
      result.outcome = 'no-data';
      result.error = 'the data channel opened but no message came back';
      return result;
    }
    rtts.sort((x, y) => x - y);
    result.rtt_ms = Math.round(rtts[Math.floor(rtts.length / 2)] * 10) / 10;
    result.outcome = 'works';
    return result;
  } catch (e) {
    result.error = String(e && e.message || e);
    return result;
  } finally {
    result.candidates = [...seen];
    a.close();
    b.close();
  }
}

// The sentence the user reads, from what worked.
function verdictOf(servers, results) {
  const works = (r) => r.outcome === 'works';
  const by = (via) => results.filter((r) => r.via === via);
  const udp = by('udp').some(works);
  const tcp = by('tcp').some(works);
  const tls = by('tls').some(works);
  const working = results.map((r, i) => [r, servers[i]]).filter(([r]) => works(r));
  if (!working.length) {
    return { result: 'bad', text: 'Your network blocks every way to the relay: calls that need ' +
             'it will not work from here. Your administrator now has this result.' };
  }
  if (working.length === results.length) {
    return { result: 'good', text: 'Your network is fine for calls: every way to the relay works.' };
  }
  const on443 = working.some(([, s]) => s.port === 443);
  const first = (via) => working.find(([r]) => r.via === via)[1].port;
  const way = on443 ? 'port 443' : tls ? 'TLS on port ' + first('tls') : 'TCP on port ' + first('tcp');
  if (!udp && by('udp').length) {
    return { result: 'partial', text: 'Your network blocks UDP. Calls will work through ' + way + '.' };
  }
  if (udp && !tcp && !tls) {
    return { result: 'partial', text: 'Calls will work over UDP; the TCP and TLS ways are blocked ' +
             'here, which only matters on stricter networks.' };
  }
  return { result: 'partial', text: 'Calls will work through ' + way + '; some ways are blocked.' };
}

function describe(r) {
  if (r.outcome === 'works') return 'works (' + r.rtt_ms + ' ms)';
  return { 'no-relay-candidate': 'blocked', 'no-connection': 'no connection', 'no-data': 'no data',
           'error': 'error' }[r.outcome] || r.outcome;
}

async function main() {
  document.body.dataset.state = 'running';
  if (!token) throw new Error('This page needs the link your administrator sent (it ends in #…).');
  setStatus('Asking the relay for test credentials…');
  const start = await api('start', { token });
  const servers = start.ice_servers || [];
  if (!servers.length) throw new Error('The relay offers no TURN server to test.');
  const progress = $('progress');
  progress.max = servers.length;
  const items = servers.map((s) => {
    const li = document.createElement('li');
    li.className = 'running';
    const name = document.createElement('span');
    name.textContent = s.label + ' (' + s.urls + ')';
    const state = document.createElement('span');
    state.className = 'state';
    state.textContent = 'testing…';
    li.append(name, state);
    $('list').append(li);
    return { li, state };
  });
  setStatus('Testing ' + servers.length + ' ways to the relay…');
  let done = 0;
  const results = await Promise.all(servers.map(async (s, i) => {
    const r = await testServer(s);
    items[i].li.className = r.outcome === 'works' ? 'works' : 'fails';
    items[i].state.textContent = describe(r);
    if (r.error) items[i].li.title = r.error;
    progress.value = ++done;
    return r;
  }));
  const verdict = verdictOf(servers, results);
  document.body.dataset.result = verdict.result;
  $('verdict').textContent = verdict.text;
  $('verdict').hidden = false;
  window.checkResult = { verdict: verdict.text, result: verdict.result, results };
  setStatus('Sending the result to your administrator…');
  try {
    await api('result', { token, verdict: verdict.text, results });
    setStatus('Done. The result was sent to your administrator; you can close this page.');
  } catch (e) {
    setStatus('Done, but the result could not be sent: ' + e.message);
  }
  document.body.dataset.state = 'done';
}

main().catch((e) => {
  document.body.dataset.result = 'invalid';
  $('verdict').textContent = e.message;
  $('verdict').hidden = false;
  setStatus('The check could not run.');
  window.checkResult = { error: e.message };
  document.body.dataset.state = 'done';
});
