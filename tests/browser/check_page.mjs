// One real browser opens a check link (turnpike-admin check-link) and runs the check page to its
// end, as a user would: headless Debian Chromium driven by playwright-core, in a network
// namespace when asked. Takes a screenshot of the finished page.
//
//   node check_page.mjs CONFIG.json     (written by tests/integration/test_check_page.py)
//
// CONFIG: { launcher, timeout_ms, url, home, profile, netns (or null), screenshot, extra_urls }
// Prints one JSON object on stdout: { ok, error, user_agent, state, result, page_text, ms };
// exits 0 when the page reached its end (whatever it found). Progress goes to stderr.
import { readFileSync } from 'node:fs';
import { checkSwitches, launchBrowser } from './chromium.mjs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const started = Date.now();
const log = (...a) => console.error(`[${((Date.now() - started) / 1000).toFixed(2)}s]`, ...a);

async function main() {
  const out = { ok: false };
  const watchdog = setTimeout(() => {
    out.error = `overall timeout of ${config.timeout_ms} ms`;
    console.log(JSON.stringify(out));
    process.exit(1);
  }, config.timeout_ms + 5000);
  let context;
  try {
    log('launching', config.netns ? `in netns ${config.netns}` : '');
    context = await launchBrowser(config.launcher, { ...config, urls: [config.url, ...(config.extra_urls || [])] },
                                  config.timeout_ms);
    const page = context.pages()[0] || await context.newPage();
    out.user_agent = await checkSwitches(page, 'check');
    log('opening', config.url.replace(/#.*/, '#…'));
    await page.goto(config.url, { timeout: 20000 });
    await page.waitForFunction(() => document.body.dataset.state === 'done',
                               null, { timeout: Math.max(1000, config.timeout_ms - (Date.now() - started)) });
    out.state = await page.evaluate(() => document.body.dataset.result);
    out.result = await page.evaluate(() => window.checkResult);
    out.page_text = await page.evaluate(() => document.body.innerText);
    await page.screenshot({ path: config.screenshot, fullPage: true });
    out.ok = true;
  } catch (e) {
    out.error = e.message.split('\n')[0];
  } finally {
    if (context) await context.close().catch(() => {});
    clearTimeout(watchdog);
  }
  out.ms = Date.now() - started;
  log(out.ok ? 'done' : `FAILED: ${out.error}`);
  console.log(JSON.stringify(out));
  process.exitCode = out.ok ? 0 : 1;
}

await main();
