// Sealbook's web UI in real headless Chromium, as a person uses it. Run by
// crates/cli/tests/e2e/browser.rs with BASE (the server), LINK (a tenant admin's set-password
// path) and CHROMIUM (the browser). Exits non-zero, naming the step, when anything is wrong.
import { chromium } from 'playwright-core';
import fs from 'fs';
import path from 'path';
import { fileURLToPath } from 'url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { BASE, LINK, CHROMIUM } = process.env;
const PASSWORD = 'correct horse battery staple';
const axeSource = fs.readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

let step = 'start';
function check(ok, what) {
  if (!ok) throw new Error(`${step}: ${what}`);
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
try {
  // bypassCSP only lets the test inject axe; the page's own policy is checked below.
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true, acceptDownloads: true });
  const page = await ctx.newPage();
  const dialogs = [];
  page.on('dialog', d => { dialogs.push(d.message()); d.dismiss(); });
  const consoleErrors = [];
  // The refused sign-in answers 401 on purpose; Chromium logs every non-2xx page load.
  page.on('console', m => {
    if (m.type() === 'error' && !m.text().includes('status of 401')) consoleErrors.push(m.text());
  });

  async function axe(name) {
    await page.addScriptTag({ content: axeSource });
    const violations = await page.evaluate(async () =>
      (await window.axe.run()).violations.map(v => `${v.id}: ${v.nodes.map(n => n.target).join(' ')}`));
    check(violations.length === 0, `axe-core on ${name}: ${violations.join('; ')}`);
  }

  step = 'set password';
  await page.goto(BASE + LINK);
  await page.getByLabel('New password').fill(PASSWORD);
  await page.getByLabel('The same again').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.waitForURL(u => u.pathname === '/ui/login');
  check((await page.textContent('[role=status]')).includes('password is set'), 'the notice says the password is set');
  await axe('sign-in');

  step = 'sign in';
  await page.getByLabel('E-mail address').fill('admin@acme.example');
  await page.getByLabel('Password').fill('wrong password, twelve+');
  await page.getByRole('button', { name: 'Sign in' }).click();
  check((await page.textContent('[role=alert]')).includes('Wrong organisation, e-mail address or password'), 'a wrong password is refused');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/ui/search');
  const cookies = await ctx.cookies();
  const session = cookies.find(c => c.name === '__Host-sealbook');
  check(session && session.httpOnly && session.secure && session.sameSite === 'Lax', 'the session cookie is HttpOnly, Secure, SameSite=Lax');
  check(await page.evaluate(() => document.cookie) === '', 'no script can read the session cookie');

  step = 'keyboard';
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.textContent.trim()) === 'Skip to content', 'the first Tab reaches the skip link');

  step = 'search';
  await axe('search');
  const rows = await page.locator('tbody tr').count();
  check(rows >= 9, `the tenant's events are listed (${rows})`);
  await page.getByLabel('Actor id').fill('u-23');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(u => u.searchParams.get('actor') === 'u-23');
  check(await page.locator('tbody tr').count() === 1, 'the actor filter leaves one event');
  check((await page.textContent('tbody')).includes('Grace Hopper overrode order 4472'), 'with its label');
  await page.getByLabel('Event type').selectOption('override.applied');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(u => u.searchParams.get('type') === 'override.applied');
  await page.goBack();
  check(!page.url().includes('type=override.applied') && page.url().includes('actor=u-23'), 'the back button returns to the previous filters');
  const times = await page.locator('tbody time').first().getAttribute('title');
  check(times && times.endsWith('(UTC)'), 'times show UTC on hover');

  step = 'event detail';
  await page.goto(BASE + '/ui/events/demo-5');
  await axe('event');
  check((await page.textContent('.badge.ok')).trim() === 'Verified', 'the verified badge');
  check(await page.locator('.timeline li').count() === 4, 'the correlation timeline: request, failure, replay, success');
  check((await page.locator('.timeline li.current').textContent()).includes('failed'), 'this event marked in the timeline');
  await page.getByText('The signed checkpoint', { exact: true }).click();
  check((await page.textContent('details pre')).includes('acme'), 'the checkpoint is shown');
  await page.getByRole('link', { name: 'shipment S-4472', exact: true }).click();
  await page.waitForURL('**/ui/subjects/shipment/S-4472');
  check((await page.textContent('h1')).includes('History of shipment S-4472'), 'subject history');
  check(await page.locator('tbody tr').count() === 4, 'everything that happened to the shipment');

  step = 'hostile values render inert';
  for (const p of ['/ui/search', '/ui/events/demo-9']) {
    await page.goto(BASE + p);
    check(await page.locator('img[src=x]').count() === 0, `no injected image on ${p}`);
    check(await page.evaluate(() => [...document.scripts].every(s => s.src.endsWith('/ui/static/app.js'))), `no injected script on ${p}`);
  }
  check((await page.textContent('body')).includes('<script>alert(1)</script>'), 'the hostile name is shown as text');
  check(dialogs.length === 0, `no script ran: ${dialogs.join(', ')}`);

  step = 'csv download';
  await page.goto(BASE + '/ui/search?subject=order%3A4472');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  check(csv.startsWith('\ufefftime,type,label,'), 'a CSV with a BOM and the header');
  check(csv.split('\r\n').filter(l => l).length === 4, 'the header and the three events of order 4472');

  step = 'people and keys';
  await page.goto(BASE + '/ui/people');
  await axe('people');
  await page.getByLabel('E-mail address').fill('bob@acme.example');
  await page.getByLabel('Role', { exact: true }).selectOption('auditor');
  await page.getByRole('button', { name: 'Invite' }).click();
  check((await page.textContent('[role=status]')).includes('/ui/set-password?token='), 'the invitation link is shown once');
  await page.goto(BASE + '/ui/keys');
  await axe('keys');
  await page.getByLabel('Name (the service that will use it)').fill('billing');
  await page.getByLabel('events:write').check();
  await page.getByRole('button', { name: 'Create key' }).click();
  check((await page.textContent('.secret')).trim().startsWith('sbk_'), 'the new key is shown once');
  await page.goto(BASE + '/ui/keys');
  check(await page.locator('.secret').count() === 0, 'the secret is not shown again');

  step = 'dark mode and phone';
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(BASE + '/ui/search');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== 'rgb(247, 248, 250)', `dark mode follows the system (${bg})`);
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `readable on a phone without sideways scrolling (${overflow}px too wide)`);

  step = 'account and sign out';
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(BASE + '/ui/account');
  await axe('account');
  check((await page.textContent('.badge.ok')).includes('This session'), 'my session is listed');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL(u => u.pathname === '/ui/login' && u.searchParams.get('notice') === 'signed_out');
  await page.goto(BASE + '/ui/search');
  check(page.url().includes('/ui/login'), 'after sign-out the search page asks to sign in');

  check(consoleErrors.length === 0, `no console errors: ${consoleErrors.join('; ')}`);
  console.log('browser: all steps passed');
} catch (e) {
  console.error(e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
