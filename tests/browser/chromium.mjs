// What every test browser shares: the switches that keep headless Debian Chromium off the
// network, and how it is launched (in a network namespace when asked) with its own HOME (whose
// NSS database trusts the test CA). Used by webrtc_pair.mjs and check_page.mjs.
import { chromium } from 'playwright-core';

// Keep Chromium off the network (see /work/shared/TESTING.md): no background services, no DNS
// (every name fails except localhost; the TURN URLs use IP literals), no mDNS announcements of
// host candidates (224.0.0.251), no DNS-over-HTTPS. playwright-core adds --headless and
// --no-sandbox itself; the launcher merges our --disable-features with playwright's own list.
export const DISABLED_FEATURES = ['WebRtcHideLocalIpsWithMdns', 'DnsOverHttps'];
export const CHROMIUM_ARGS = [
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-breakpad',
  '--disable-domain-reliability',
  '--no-pings',
  '--disable-quic',
  `--disable-features=${DISABLED_FEATURES.join(',')}`,
];

// Every host name fails to resolve except localhost and the IP literals this browser is given:
// the rules apply to navigations to IP literals too (net::ERR_NAME_NOT_RESOLVED otherwise).
export function hostResolverRules(urls) {
  urls = urls.filter(Boolean);
  const hosts = urls.map((u) => u.replace(/^[a-z]+:(\/\/)?/, '').replace(/[:/?].*$/, ''))
                    .filter((h) => /^\d+\.\d+\.\d+\.\d+$/.test(h));
  const excluded = ['localhost', ...new Set(hosts)].map((h) => `EXCLUDE ${h}`).join(' , ');
  return `--host-resolver-rules=MAP * ~NOTFOUND , ${excluded}`;
}

// A persistent context for one browser: { profile, home, netns, urls } (urls: every URL it will
// use, for the resolver rules); `timeout` ms to start.
export async function launchBrowser(launcher, b, timeout) {
  return chromium.launchPersistentContext(b.profile, {
    executablePath: launcher,
    headless: true,
    args: [...CHROMIUM_ARGS, hostResolverRules(b.urls)],
    env: { ...process.env, HOME: b.home, XDG_CONFIG_HOME: `${b.home}/.config`,
           XDG_CACHE_HOME: `${b.home}/.cache`, TURNPIKE_NETNS: b.netns || '' },
    timeout,
  });
}

// The switches the browser really runs with (chrome://version). Chromium honours only the last
// --disable-features, so it must name ours and every feature playwright-core disables (several
// of those keep Chromium from calling Google at start). Returns the user agent.
export async function checkSwitches(page, name) {
  await page.goto('chrome://version');
  const line = await page.locator('#command_line').innerText();
  const lists = [...line.matchAll(/--disable-features=(\S+)/g)].map((m) => m[1].split(','));
  const effective = lists.length ? lists[lists.length - 1] : [];
  const wanted = new Set([...DISABLED_FEATURES, ...lists.flat()]);
  const missing = [...wanted].filter((f) => !effective.includes(f));
  if (missing.length) throw new Error(`${name}: Chromium runs without --disable-features ${missing}: ${line}`);
  const agent = await page.evaluate(() => navigator.userAgent);
  await page.goto('about:blank');
  return agent;
}
