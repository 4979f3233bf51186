// Two real browsers talk through a TURN server only: each headless Debian Chromium (driven by
// playwright-core over its DevTools pipe) opens an RTCPeerConnection with iceTransportPolicy
// "relay" and only the TURN server(s) it is given, the two exchange data-channel messages both ways,
// and getStats() shows which candidate pair carried them.
//
//   node webrtc_pair.mjs CONFIG.json      (written by tests/integration/test_browser_webrtc.py)
//
// CONFIG: { launcher, timeout_ms, messages, webrtc, browsers: [A, B] } where each browser is
//   { name, home, profile, netns (or null), ice_servers: [RTCIceServer], https_probe (optional),
//     gather_timeout_ms (optional: go on with what was gathered by then),
//     https_during (optional: a URL fetched while the data channel exchanges messages) }.
// With webrtc: false it only launches the browsers and loads each one's https_probe URL (the
// TLS trust check), for any number of browsers.
// Signalling is this script: it carries A's offer to B and B's answer back, each after ICE
// gathering completed ("vanilla ICE"), so there is no signalling server.
//
// Prints one JSON object on stdout: { ok, error, ms, browsers: { NAME: {...} } }; exits 0 only
// when the channel opened, every message arrived intact and in order in both directions, and
// both selected candidate pairs are relay <-> relay. Progress goes to stderr.
import { readFileSync } from 'node:fs';
import { checkSwitches, launchBrowser } from './chromium.mjs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const started = Date.now();
const log = (...a) => console.error(`[${((Date.now() - started) / 1000).toFixed(2)}s]`, ...a);

// Runs in each page. One RTCPeerConnection and one data channel per page.
const PAGE_HELPER = `
window.tp = {
  errors: [], states: [], received: [],
  setup(iceServers) {
    this.pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
    this.pc.addEventListener('icecandidateerror', (e) => this.errors.push(
        { url: e.url, code: e.errorCode, text: e.errorText, at_ms: Math.round(performance.now()) }));
    this.pc.addEventListener('connectionstatechange', () => this.states.push(this.pc.connectionState));
    this.opened = new Promise((resolve) => { this.resolveOpen = resolve; });
  },
  attach(dc) {
    this.dc = dc;
    dc.onopen = () => this.resolveOpen();
    if (dc.readyState === 'open') this.resolveOpen();
    dc.onmessage = (e) => this.received.push(e.data);
  },
  // The local description once gathering completed, or with what was gathered after timeoutMs
  // (a TURN server that never answers is given up only after ~40 s).
  async gathered(timeoutMs) {
    if (this.pc.iceGatheringState !== 'complete') {
      await Promise.race([
        new Promise((resolve) => this.pc.addEventListener('icegatheringstatechange',
            () => this.pc.iceGatheringState === 'complete' && resolve())),
        new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
    }
    return { sdp: this.pc.localDescription.sdp, complete: this.pc.iceGatheringState === 'complete' };
  },
  async offer(timeoutMs) {
    this.attach(this.pc.createDataChannel('turnpike', { ordered: true }));
    await this.pc.setLocalDescription();
    return this.gathered(timeoutMs);
  },
  async answer(sdp, timeoutMs) {
    this.pc.ondatachannel = (e) => this.attach(e.channel);
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    await this.pc.setLocalDescription();
    return this.gathered(timeoutMs);
  },
  async accept(sdp) { await this.pc.setRemoteDescription({ type: 'answer', sdp }); },
  send(messages) { for (const m of messages) this.dc.send(m); },
  async receive(count) {
    while (this.received.length < count) await new Promise((r) => setTimeout(r, 20));
    return this.received;
  },
  // The pair the ICE agent selected, from the transport's selectedCandidatePairId.
  async selectedPair() {
    const stats = await this.pc.getStats();
    let transport = null;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) transport = s; });
    if (!transport) return null;
    const pair = stats.get(transport.selectedCandidatePairId);
    const pick = (c) => c && { candidateType: c.candidateType, relayProtocol: c.relayProtocol,
                               protocol: c.protocol, address: c.address, port: c.port, url: c.url };
    return { state: pair.state, nominated: pair.nominated, bytesSent: pair.bytesSent,
             bytesReceived: pair.bytesReceived, local: pick(stats.get(pair.localCandidateId)),
             remote: pick(stats.get(pair.remoteCandidateId)) };
  },
};
`;

// Rejects when `promise` takes longer than the time left before the overall deadline.
const deadline = started + config.timeout_ms;
async function within(what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function candidates(sdp) {
  return sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:')).map((l) => {
    const f = l.split(' ');  // foundation component transport priority address port typ TYPE ...
    return { transport: f[2].toLowerCase(), address: f[4], port: Number(f[5]), type: f[7] };
  });
}

async function launch(b) {
  const urls = [b.https_probe, b.https_during, ...b.ice_servers.flatMap((s) => [].concat(s.urls))];
  const context = await launchBrowser(config.launcher, { ...b, urls }, Math.max(1000, deadline - Date.now()));
  const page = context.pages()[0] || await context.newPage();
  return { ...b, context, page, report: { netns: b.netns || null } };
}

async function checkBrowser(b) {
  b.report.version = await checkSwitches(b.page, b.name);
}

// Loads `url` in a page of its own (a failed load leaves an error page behind) and reports it
// as b.report[key]: {url, status, body} or {url, error}.
async function probe(b, url = b.https_probe, key = 'https_probe') {
  const page = await b.context.newPage();
  try {
    // Generous: on a loaded two-core machine a refused certificate can take seconds to report,
    // and a timeout here would hide which answer it was.
    const timeout = Math.max(1000, Math.min(20000, deadline - Date.now()));
    const response = await page.goto(url, { timeout });
    b.report[key] = { url, status: response.status(), body: (await response.text()).slice(0, 200) };
  } catch (e) {
    b.report[key] = { url, error: e.message.split('\n')[0] };
  } finally {
    await page.close();
  }
}

function messagesFrom(name, count) {
  const list = [];
  for (let i = 0; i < count; i++) list.push(`${name} #${i} ${Math.random().toString(36).slice(2)}`);
  // One message larger than a datagram: SCTP splits it into many relayed packets.
  list.push(`${name} large `.padEnd(48 * 1024, name[0]));
  return list;
}

async function run(browsers) {
  const [a, b] = browsers;
  for (const x of browsers) await x.page.evaluate(PAGE_HELPER);
  await Promise.all(browsers.map((x) => x.page.evaluate((s) => window.tp.setup(s), x.ice_servers)));

  const gatherLimit = (x) => Math.min(x.gather_timeout_ms ?? Infinity, deadline - Date.now());
  let t = Date.now();
  const offer = await within('A gathering relay candidates',
                             a.page.evaluate((ms) => window.tp.offer(ms), gatherLimit(a)));
  a.report.gather_ms = Date.now() - t;
  t = Date.now();
  const answer = await within('B gathering relay candidates',
                              b.page.evaluate(([sdp, ms]) => window.tp.answer(sdp, ms), [offer.sdp, gatherLimit(b)]));
  b.report.gather_ms = Date.now() - t;
  for (const [x, d] of [[a, offer], [b, answer]]) {
    x.report.candidates = candidates(d.sdp);
    x.report.gather_complete = d.complete;
    x.report.ice_errors = await x.page.evaluate(() => window.tp.errors);
    if (!x.report.candidates.length) {
      throw new Error(`${x.name} gathered no relay candidate` +
                      (d.complete ? '' : ` in ${x.report.gather_ms} ms`));
    }
    const other = x.report.candidates.filter((c) => c.type !== 'relay');
    if (other.length) throw new Error(`${x.name} offered non-relay candidates ${JSON.stringify(other)}`);
  }

  t = Date.now();
  await a.page.evaluate((sdp) => window.tp.accept(sdp), answer.sdp);
  await within('data channel open on both sides',
                Promise.all(browsers.map((x) => x.page.evaluate(() => window.tp.opened))));
  const open_ms = Date.now() - t;

  // https_during: a page fetched while the data channel carries the messages below (the shared
  // port case: web traffic and TURN on one port at the same time).
  const during = browsers.filter((x) => x.https_during).map((x) => probe(x, x.https_during, 'https_during'));

  t = Date.now();
  const sent = { [a.name]: messagesFrom(a.name, config.messages), [b.name]: messagesFrom(b.name, config.messages) };
  await Promise.all(browsers.map((x) => x.page.evaluate((m) => window.tp.send(m), sent[x.name])));
  for (const [x, y] of [[a, b], [b, a]]) {
    const got = await within(`${y.name} receiving ${x.name}'s messages`,
                             y.page.evaluate((n) => window.tp.receive(n), sent[x.name].length));
    if (JSON.stringify(got) !== JSON.stringify(sent[x.name])) {
      throw new Error(`${y.name} received ${JSON.stringify(got).slice(0, 400)} instead of ${x.name}'s messages`);
    }
    y.report.received = got.length;
  }
  await Promise.all(during);
  const exchange_ms = Date.now() - t;

  for (const x of browsers) {
    x.report.selected = await x.page.evaluate(() => window.tp.selectedPair());
    x.report.states = await x.page.evaluate(() => window.tp.states);
    const s = x.report.selected;
    if (!s || s.local?.candidateType !== 'relay' || s.remote?.candidateType !== 'relay') {
      throw new Error(`${x.name}: selected pair is not relay <-> relay: ${JSON.stringify(s)}`);
    }
  }
  return { open_ms, exchange_ms };
}

async function main() {
  const result = { ok: false, browsers: {} };
  let browsers = [];
  const watchdog = setTimeout(() => {
    result.error = `overall timeout of ${config.timeout_ms} ms`;
    console.log(JSON.stringify(result));
    process.exit(1);  // playwright-core kills the browsers it launched on exit
  }, config.timeout_ms + 5000);
  try {
    log('launching', config.browsers.map((b) => `${b.name}${b.netns ? ` (netns ${b.netns})` : ''}`).join(', '));
    const launches = await Promise.allSettled(config.browsers.map(launch));
    browsers = launches.filter((l) => l.status === 'fulfilled').map((l) => l.value);
    const failed = launches.find((l) => l.status === 'rejected');
    if (failed) throw failed.reason;
    for (const b of browsers) result.browsers[b.name] = b.report;
    result.ms = { launch: Date.now() - started };
    await Promise.all(browsers.map(checkBrowser));
    await Promise.all(browsers.filter((x) => x.https_probe).map((x) => probe(x)));
    if (config.webrtc !== false) {
      log('browsers up; ICE with', JSON.stringify(config.browsers.map((b) => b.ice_servers.map((s) => s.urls))));
      Object.assign(result.ms, await run(browsers));
    }
    result.ok = true;
  } catch (e) {
    result.error = e.message;
    for (const b of browsers) {
      try {
        b.report.ice_errors = await b.page.evaluate(() => window.tp?.errors);
        b.report.states = await b.page.evaluate(() => window.tp?.states);
      } catch { /* the page may be gone */ }
    }
  } finally {
    await Promise.allSettled(browsers.map((b) => b.context.close()));
    clearTimeout(watchdog);
  }
  result.ms = { ...result.ms, total: Date.now() - started };
  log(result.ok ? 'ok' : `FAILED: ${result.error}`);
  console.log(JSON.stringify(result));
  process.exitCode = result.ok ? 0 : 1;
}

await main();
