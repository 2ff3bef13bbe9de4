// Sealbook's web UI in real headless Chromium, as a person uses it. Run by
// crates/cli/tests/e2e/browser.rs with BASE (the server), LINK (a tenant admin's set-password
// path), OPERATOR_LINK (a platform operator's), IDP and IDP_SECRET (an OpenID provider, idp.mjs,
// and the client secret it knows) and CHROMIUM (the browser); with SHOTS set to a
// folder, it also saves screenshots of the main pages there (docs/ui/). Exits non-zero, naming
// the step, when anything is wrong.
import { chromium } from 'playwright-core';
import crypto from 'crypto';
import fs from 'fs';
import http from 'http';
import path from 'path';
import { fileURLToPath } from 'url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { BASE, LINK, OPERATOR_LINK, CHROMIUM, SHOTS, IDP, IDP_SECRET } = process.env;

// RFC 6238 codes, computed here from the key the page shows (base32, HMAC-SHA-1, 30 s, 6 digits).
function totp(base32, unixSeconds) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map(b => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const h = crypto.createHmac('sha1', key).update(counter).digest();
  const o = h[19] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

// A page of another site that frames `src`: the host of an embedded viewer.
async function host() {
  const server = http.createServer((req, res) => {
    const src = new URL(req.url, 'http://x').searchParams.get('src') || '';
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>Host app</title><h1>Our product</h1><iframe title="Audit log" src="${src.replace(/"/g, '&quot;')}" width="1000" height="700"></iframe>`);
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

async function shot(page, name) {
  // A page behind another renders no frames: bring it to the front first.
  if (SHOTS) await page.bringToFront();
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}
const PASSWORD = 'correct horse battery staple';
const axeSource = fs.readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

let step = 'start';
function check(ok, what) {
  if (!ok) throw new Error(`${step}: ${what}`);
}
// A step that never returns fails the test, naming the step, instead of hanging it.
const watchdog = setTimeout(() => {
  console.error(`${step}: did not finish within 4 minutes`);
  process.exit(1);
}, 240000);
watchdog.unref();

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
    if (m.type() === 'error' && !m.text().includes('status of 401')) consoleErrors.push(`${m.text()} (${m.location().url})`);
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
  await shot(page, 'login-light');

  step = 'sign in';
  await page.getByLabel('E-mail address').fill('admin@acme.example');
  await page.getByLabel('Password').fill('wrong password, twelve+');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  check((await page.textContent('[role=alert]')).includes('Wrong organisation, e-mail address or password'), 'a wrong password is refused');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
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
  await shot(page, 'search-light');
  const rows = await page.locator('tbody tr').count();
  check(rows >= 9, `the tenant's events are listed (${rows})`);
  await page.getByLabel('Actor id').fill('u-23');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForURL(u => u.searchParams.get('actor') === 'u-23');
  check(await page.locator('tbody tr').count() === 1, 'the actor filter leaves one event');
  check((await page.textContent('tbody')).includes('Grace Hopper overrode order 4472'), 'with its label');
  await page.getByLabel('Event type').selectOption('override.applied');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForURL(u => u.searchParams.get('type') === 'override.applied');
  await page.goBack();
  check(!page.url().includes('type=override.applied') && page.url().includes('actor=u-23'), 'the back button returns to the previous filters');
  await page.getByLabel('Save these filters as').fill('Grace Hopper');
  await page.getByRole('button', { name: 'Save search' }).click();
  await page.waitForURL(u => u.searchParams.get('actor') === 'u-23');
  await page.goto(BASE + '/ui/search');
  await page.getByRole('link', { name: 'Grace Hopper', exact: true }).click();
  await page.waitForURL(u => u.searchParams.get('actor') === 'u-23');
  check(await page.locator('tbody tr').count() === 1, 'a saved search opens its filters');
  const times = await page.locator('tbody time').first().getAttribute('title');
  check(times && times.endsWith('(UTC)'), 'times show UTC on hover');

  step = 'event detail';
  await page.goto(BASE + '/ui/events/demo-5');
  await axe('event');
  await shot(page, 'event-light');
  check((await page.textContent('.badge.ok')).trim() === 'Verified', 'the verified badge');
  check(await page.locator('.timeline li').count() === 4, 'the correlation timeline: request, failure, replay, success');
  check((await page.locator('.timeline li.current').textContent()).includes('failed'), 'this event marked in the timeline');
  await page.getByText('The signed checkpoint', { exact: true }).click();
  check((await page.textContent('details pre')).includes('acme'), 'the checkpoint is shown');
  await page.getByRole('link', { name: 'shipment S-4472', exact: true }).click();
  await page.waitForURL('**/ui/subjects/shipment/S-4472');
  check((await page.textContent('h1')).includes('History of shipment S-4472'), 'subject history');
  await shot(page, 'subject-light');
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
  await page.getByRole('link', { name: 'My exports' }).click();
  await page.waitForURL(u => u.pathname === '/ui/exports');
  await axe('my exports');
  check((await page.textContent('tbody')).includes('3 of 3 events'), 'the export\'s progress: all its events sent');
  await shot(page, 'exports-light');

  step = 'people and keys';
  await page.goto(BASE + '/ui/people');
  await axe('people');
  await shot(page, 'people-light');
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


  step = 'catalog';
  await page.goto(BASE + '/ui/catalog?q=override');
  await axe('catalog');
  check((await page.textContent('main')).includes('override.applied'), 'the catalog lists the type');
  check((await page.textContent('main')).includes('Retention class'), 'with its retention class');
  await shot(page, 'catalog-light');

  step = 'two-step sign-in set-up';
  await page.goto(BASE + '/ui/account');
  await page.getByRole('link', { name: 'Set up two-step sign-in' }).click();
  await page.waitForURL(u => u.pathname === '/ui/account/totp');
  await axe('two-step set-up');
  check(await page.locator('img.qr').evaluate(i => i.complete && i.naturalWidth > 0), 'the QR code renders');
  await shot(page, 'totp-setup-light');
  const totpKey = (await page.textContent('#totp-key')).trim();
  const setUpAt = Math.floor(Date.now() / 1000);
  await page.getByLabel('Code').fill(totp(totpKey, setUpAt));
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
  await page.waitForURL(u => u.pathname === '/ui/account');
  check((await page.textContent('[role=status]')).includes('Two-step sign-in is on'), 'two-step sign-in is on');

  step = 'settings and the embedded viewer';
  const allowed = await host();
  const other = await host();
  await page.goto(BASE + '/ui/settings');
  await axe('settings');
  await page.getByLabel('Sites allowed to embed the viewer').fill(allowed.origin);
  await page.getByLabel('Links to business records').fill('order = https://erp.example/orders/{id}');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.waitForURL(u => u.searchParams.get('notice') === 'saved');
  await page.getByLabel('Only types under').fill('order.');
  await page.getByRole('button', { name: 'Make a 15-minute viewer link' }).click();
  const viewerPath = await page.locator('#viewer-link').getAttribute('href');
  check(viewerPath && viewerPath.startsWith('/ui/embed?token='), 'a viewer link is made');
  await shot(page, 'settings-light');
  await page.goto(BASE + '/ui/events/demo-2');
  check(await page.locator('a[href="https://erp.example/orders/4472"]').count() === 1, 'the event links to the business record');
  const embedder = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const hostPage = await embedder.newPage();
  await hostPage.goto(`${allowed.origin}/?src=${encodeURIComponent(BASE + viewerPath)}`);
  const frame = hostPage.frameLocator('iframe');
  await frame.locator('h1').waitFor();
  const framed = await frame.locator('main').textContent();
  check(framed.includes('Audit log') && framed.includes('order.created'), 'the allowed site shows the embedded view');
  check(!framed.includes('integration.failed') && !framed.includes('user.login_succeeded'), 'only the token\'s types');
  check(!framed.includes('Ada Lovelace'), 'personal values masked in the embedded view');
  await frame.locator('tbody td[data-label="What happened"] a').first().click();
  // The event's page has a "Raw event" section; the search page has none.
  await frame.getByRole('heading', { name: 'Raw event' }).waitFor();
  check((await frame.locator('main').textContent()).includes('Raw event'), 'an event opens inside the frame');
  // A site the tenant did not allow: Chromium refuses the frame and says so on the console. The
  // refused frame itself is not probed (asking an error frame can hang).
  const blockedPage = await embedder.newPage();
  const refusals = [];
  blockedPage.on('console', m => { if (m.text().includes('frame-ancestors')) refusals.push(m.text()); });
  await blockedPage.goto(`${other.origin}/?src=${encodeURIComponent(BASE + viewerPath)}`);
  for (let i = 0; i < 100 && refusals.length === 0; i++) await blockedPage.waitForTimeout(100);
  check(refusals.length > 0, 'a site the tenant did not allow cannot frame the view');
  await embedder.close();
  if (SHOTS) {
    await page.goto(BASE + viewerPath);
    await shot(page, 'embed-light');
  }
  allowed.server.close();
  other.server.close();

  step = 'dark mode and phone';
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(BASE + '/ui/search');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== 'rgb(247, 248, 250)', `dark mode follows the system (${bg})`);
  await shot(page, 'search-dark');
  await page.goto(BASE + '/ui/events/demo-5');
  await shot(page, 'event-dark');
  await page.goto(BASE + '/ui/keys');
  await shot(page, 'keys-dark');
  await page.goto(BASE + '/ui/search');
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `readable on a phone without sideways scrolling (${overflow}px too wide)`);
  await shot(page, 'search-phone');
  await page.emulateMedia({ colorScheme: 'light' });

  step = 'account and sign out';
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(BASE + '/ui/account');
  await axe('account');
  check((await page.locator('.badge.ok', { hasText: 'This session' }).count()) === 1, 'my session is listed');
  await shot(page, 'account-light');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL(u => u.pathname === '/ui/login' && u.searchParams.get('notice') === 'signed_out');
  await page.goto(BASE + '/ui/search');
  check(page.url().includes('/ui/login'), 'after sign-out the search page asks to sign in');

  step = 'sign in with the second factor';
  await page.getByLabel('Organisation', { exact: true }).fill('acme');
  await page.getByLabel('E-mail address').fill('admin@acme.example');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByLabel('Code').waitFor();
  await axe('two-step sign-in');
  check((await ctx.cookies()).every(c => c.name !== '__Host-sealbook'), 'no session before the code');
  // The set-up spent its step: a code of a later step signs in (the next step's is accepted for
  // clock drift while the set-up's step is still current).
  await page.getByLabel('Code').fill(totp(totpKey, Math.max(Math.floor(Date.now() / 1000), setUpAt + 30)));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL('**/ui/search');

  step = 'operator access';
  const op = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const opPage = await op.newPage();
  await opPage.goto(BASE + OPERATOR_LINK);
  await opPage.getByLabel('New password').fill(PASSWORD);
  await opPage.getByLabel('The same again').fill(PASSWORD);
  await opPage.getByRole('button', { name: 'Set password' }).click();
  await opPage.waitForURL(u => u.pathname === '/ui/login');
  await opPage.getByLabel('E-mail address').fill('olga@platform.example');
  await opPage.getByLabel('Password').fill(PASSWORD);
  await opPage.getByRole('button', { name: 'Sign in', exact: true }).click();
  await opPage.waitForURL(u => u.pathname === '/ui/operator');
  check(!(await opPage.textContent('nav')).includes('Search'), 'an operator outside an access has no search');
  await opPage.getByLabel('Tenant').selectOption('acme');
  await opPage.getByLabel('Ticket').fill('SUP-2001');
  await opPage.getByLabel('Reason').fill('Customer reports a missing shipment event');
  await opPage.getByLabel('For').selectOption('15');
  await opPage.getByRole('button', { name: 'Start audited access' }).click();
  await opPage.waitForURL(u => u.pathname === '/ui/search');
  const banner = await opPage.textContent('.banner');
  check(banner.includes('Platform operator access to') && banner.includes('SUP-2001'), 'a banner says whose log this is and why');
  check((await opPage.locator('tbody tr').count()) >= 9, 'the tenant\'s events, read only');
  await shot(opPage, 'operator-access-light');
  await opPage.getByRole('button', { name: 'End access' }).click();
  await opPage.waitForURL(u => u.pathname === '/ui/operator');
  await opPage.goto(BASE + '/ui/search');
  check((await opPage.textContent('h1')).includes('Not allowed'), 'after the access ends, no search');
  await op.close();
  await page.bringToFront();
  await page.goto(BASE + '/ui/search?type=operator.access_started');
  check((await page.textContent('tbody')).includes('started accessing this tenant'), 'the access is in the tenant\'s own log, for its admins to see');
  await page.goto(BASE + '/ui/search?type=operator.access_ended');
  check(await page.locator('tbody tr').count() === 1, 'and its end');

  step = 'single sign-on set-up';
  await page.goto(BASE + '/ui/sso');
  await axe('single sign-on');
  await page.getByLabel('Issuer URL').fill(IDP);
  await page.getByLabel('Client id').fill('sealbook-acme');
  await page.getByLabel('Client secret').fill(IDP_SECRET);
  await page.getByLabel('Extra scopes').fill('groups');
  await page.getByLabel('Roles from claim values').fill('auditors = auditor\nsealbook-admins = tenant_admin');
  await page.getByLabel('Create people at their first sign-in').check();
  await page.getByRole('button', { name: 'Save single sign-on' }).click();
  await page.waitForURL(u => u.searchParams.get('notice') === 'saved');
  check((await page.textContent('main')).includes('A secret is set'), 'the secret is kept, not shown');
  await shot(page, 'sso-light');

  step = 'sign in with single sign-on';
  const sso = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const ssoPage = await sso.newPage();
  await ssoPage.goto(BASE + '/ui/login');
  await ssoPage.getByLabel('Organisation for single sign-on').fill('acme');
  await ssoPage.getByRole('button', { name: 'Sign in with single sign-on' }).click();
  // The provider's own login and consent pages.
  await ssoPage.waitForURL(u => u.origin === IDP);
  await ssoPage.locator('input[name=login]').fill('audit.ann@acme.example');
  await ssoPage.locator('input[name=password]').fill('anything');
  await ssoPage.getByRole('button', { name: 'Sign-in' }).click();
  await ssoPage.getByRole('button', { name: 'Continue' }).click();
  await ssoPage.waitForURL('**/ui/search');
  check((await ssoPage.locator('tbody tr').count()) >= 9, 'signed in through the provider, the tenant\'s events');
  check(!(await ssoPage.textContent('nav')).includes('People'), 'as an auditor, from the provider\'s groups');
  await ssoPage.goto(BASE + '/ui/account');
  check((await ssoPage.textContent('tbody')).includes('Single sign-on'), 'the session says it came from single sign-on');
  await sso.close();
  await page.bringToFront();
  await page.goto(BASE + '/ui/search?type=user.provisioned');
  check((await page.textContent('tbody')).includes('was created at first sign-on as auditor'), 'the new person is in the tenant\'s log');

  check(consoleErrors.length === 0, `no console errors: ${consoleErrors.join('; ')}`);
  console.log('browser: all steps passed');
} catch (e) {
  console.error(e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
