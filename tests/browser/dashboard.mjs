// Browser checks of the dashboard in headless Debian chromium, driven by
// playwright-core. Run by tests/www.bats against a private stack:
//
//   node tests/browser/dashboard.mjs CHECK BASE_URL OUT_DIR
//
// CHECK is one of the functions in `checks` below. Exits 0 when the check
// passed, 1 with a message when it failed. Console errors, page errors
// and dialogs fail every check unless it says otherwise.
//
// Pages sign in through the sign-in view (as the sample admin unless a
// check says otherwise) with $ORDERCAST_DEMO_PASSWORD; REST calls of the
// checks themselves use the admin's token in $OC_ADMIN_TOKEN.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const [check, base, outDir] = process.argv.slice(2);
// The limit the issue sets for an event to show in another page.
const LIVE_MS = 2000;
// Generous limits for page loads and REST answers on a loaded machine.
const LOAD_MS = 15000;
const ADMIN = 'admin@ordercast.example';
const PASSWORD = process.env.ORDERCAST_DEMO_PASSWORD || 'ordercast-demo';
const TOKEN = process.env.OC_ADMIN_TOKEN || '';
const ENDED = 'Your session ended; sign in again.';

const problems = [];
const profiles = [];
const contexts = [];
const dialogs = [];

function fail(message) {
	throw new Error(message);
}

function log(message) {
	process.stdout.write('# ' + message + '\n');
}

async function launch() {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'oc-chromium-'));
	profiles.push(profile);
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.OC_CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: [
			'--headless', '--no-sandbox', '--disable-gpu',
			'--disable-quic', '--no-first-run',
			'--disable-background-networking',
			'--disable-component-update', '--disable-sync'
		],
		viewport: { width: 1920, height: 1080 }
	});
	contexts.push(context);
	return context;
}

// The browser logs a failed load of /api/session (the 401 of a page
// nobody signed in to, a refused sign-in): expected, the checks look at
// what the page shows instead.
function expectedFailure(msg) {
	return /^Failed to load resource/.test(msg.text()) &&
	    /\/api\/session$/.test(msg.location().url || '');
}

// A page that records console errors, page errors and dialogs, at the
// dashboard, not signed in yet.
async function newPage(context, hash) {
	const page = await context.newPage();
	const name = hash || '/';
	page.on('console', (msg) => {
		if (msg.type() === 'error' && !expectedFailure(msg))
			problems.push(name + ': console error: ' + msg.text());
	});
	page.on('pageerror', (err) => {
		problems.push(name + ': page error: ' + err.message);
	});
	page.on('dialog', async (dialog) => {
		dialogs.push(name + ': dialog ' + dialog.type() + ': ' +
		    dialog.message());
		await dialog.dismiss();
	});
	await page.goto(base + '/' + (hash || ''), { timeout: LOAD_MS });
	await page.waitForSelector('#signin:not([hidden]), ' +
	    '#account:not([hidden])', { timeout: LOAD_MS });
	return page;
}

// Fill the sign-in form and send it.
async function signIn(page, email, password) {
	await page.fill('#signin-email', email);
	await page.fill('#signin-password', password ?? PASSWORD);
	await page.click('#signin-submit');
}

// Is a selector's element shown on the page?
function shown(page, sel) {
	return page.locator(sel).first().isVisible();
}

// The page shows the sign-in view and nothing of any role.
async function assertSignedOut(page, what) {
	if (!await shown(page, '#signin-form'))
		fail(what + ': no sign-in form');
	for (const sel of ['#view-portal', '#view-admin', '#view-live',
	    '#tabs', '#demo', '#account', '#product-list li'])
		if (await shown(page, sel))
			fail(what + ': ' + sel + ' is shown');
}

// A page of the dashboard, signed in (as `as`, the admin by default,
// unless the context already is) with its state loaded and its stream
// live.
async function openPage(context, hash, as) {
	const page = await newPage(context, hash);
	if (await shown(page, '#signin'))
		await signIn(page, as || ADMIN);
	await page.waitForSelector('#account:not([hidden])', { timeout: LOAD_MS })
	    .catch(async () => fail('not signed in: ' +
	    await page.textContent('#signin-error')));
	await page.waitForFunction(() => window.ordercast &&
	    window.ordercast.store.state.loaded, null, { timeout: LOAD_MS });
	await waitLive(page);
	// Marks this document: a reload would lose it.
	await page.evaluate(() => { window.__ocNoReload = true; });
	return page;
}

async function waitLive(page) {
	await page.waitForSelector('#conn[data-state="live"]',
	    { timeout: LOAD_MS });
}

async function assertNoReload(page, name) {
	const same = await page.evaluate(() => window.__ocNoReload === true);
	if (!same)
		fail(name + ' was reloaded');
}

// Wait for a condition in the page; returns the milliseconds it took.
async function within(page, ms, what, fn, arg) {
	const t0 = Date.now();
	try {
		await page.waitForFunction(fn, arg, { timeout: ms, polling: 20 });
	} catch (e) {
		fail(what + ' not seen within ' + ms + ' ms');
	}
	return Date.now() - t0;
}

// A REST call as the admin (or with another token).
async function api(method, p, body, token) {
	const headers = { Authorization: 'Bearer ' + (token ?? TOKEN) };
	if (body || method !== 'GET')
		headers['Content-Type'] = 'application/json';
	const res = await fetch(base + '/api/' + p, {
		method,
		headers,
		body: body ? JSON.stringify(body) : undefined
	});
	if (res.status === 204)
		return null;
	const data = await res.json().catch(() => null);
	if (!res.ok)
		fail(method + ' /api/' + p + ': ' + res.status + ' ' +
		    JSON.stringify(data));
	return data;
}

async function pickProduct(minStock) {
	const products = (await api('GET', 'products')).data;
	const p = products.find(x => x.stock >= minStock &&
	    !x.name.includes('<'));
	if (!p)
		fail('no product with ' + minStock + ' in stock');
	return p;
}

const checks = {
	// An order placed in the portal shows in the admin page; the status
	// move made there shows in the portal: each within two seconds.
	async 'order-flow'(context) {
		const product = await pickProduct(5);
		const portal = await openPage(context, '#portal');
		const admin = await openPage(context, '#admin');
		const customerId = await portal.$eval('#customer-select',
		    s => s.value);
		if (!customerId)
			fail('no customer to choose');

		const card = portal.locator('#product-list li[data-key="' +
		    product.id + '"]');
		await card.locator('input.qty').fill('2');
		await card.locator('button').click();
		await portal.locator('#place-order').click();
		await portal.waitForSelector('#order-ok:not(:empty)',
		    { timeout: LOAD_MS }).catch(async () => fail('order not ' +
		    'placed: ' + await portal.textContent('#order-error')));
		const placedAt = Date.now();
		// The order's id, from the newest order of this customer.
		const orders = await api('GET', 'orders?limit=1&customerId=' +
		    customerId);
		const order = orders.data[0];
		if (!order || order.status !== 'pending')
			fail('the new order is not pending: ' + JSON.stringify(order));
		const rowSel = '#orders-body tr[data-key="' + order.id + '"]';
		await within(admin, LIVE_MS - (Date.now() - placedAt),
		    'order in the admin page', sel => document.querySelector(sel),
		    rowSel);
		log('order reached the admin page ' + (Date.now() - placedAt) +
		    ' ms after the API answered');
		await within(portal, LIVE_MS, 'order in the portal list',
		    id => document.querySelector('#my-orders li[data-key="' +
		    id + '"]'), order.id);

		await admin.locator(rowSel + ' [data-action=move]').click();
		const movedAt = Date.now();
		const ms = await within(portal, LIVE_MS,
		    'status processing in the portal',
		    id => {
			const li = document.querySelector('#my-orders li[data-key="' +
			    id + '"]');
			return li && li.dataset.status === 'processing' &&
			    li.querySelector('.badge').textContent === 'Processing';
		    }, order.id);
		log('status move reached the portal ' + (Date.now() - movedAt) +
		    ' ms after the click (' + ms + ' ms waiting)');
		await within(portal, LIVE_MS, 'a toast in the portal',
		    () => /is now Processing/.test(
		    document.getElementById('toasts').textContent));
		await within(admin, LIVE_MS, 'status processing in the admin page',
		    sel => {
			const tr = document.querySelector(sel);
			return tr && tr.dataset.status === 'processing';
		    }, rowSel);
		// Cancel from the admin page too, after a confirmation that
		// names the order; focus goes back where it was.
		await admin.locator(rowSel + ' [data-action=cancel]').click();
		await admin.waitForSelector('#confirm-cancel[open]',
		    { timeout: LOAD_MS });
		const question = await admin.textContent('#confirm-cancel-text');
		if (!question.includes(order.id.slice(-6)))
			fail('the confirmation does not name the order: ' + question);
		await admin.click('#confirm-cancel-yes');
		await within(portal, LIVE_MS, 'status cancelled in the portal',
		    id => {
			const li = document.querySelector('#my-orders li[data-key="' +
			    id + '"]');
			return li && li.dataset.status === 'cancelled';
		    }, order.id);
		await assertNoReload(portal, 'the portal');
		await assertNoReload(admin, 'the admin page');
	},

	// An order for more than the stock is refused, and the page says so
	// plainly; nothing changes.
	async 'refused'(context) {
		const product = await pickProduct(1);
		const portal = await openPage(context, '#portal');
		const card = portal.locator('#product-list li[data-key="' +
		    product.id + '"]');
		await card.locator('input.qty').fill(String(product.stock + 1));
		await card.locator('button').click();
		await portal.locator('#place-order').click();
		await portal.waitForSelector('#order-error:not(:empty)',
		    { timeout: LOAD_MS });
		const text = await portal.textContent('#order-error');
		log('shown: ' + text);
		if (!/^Order refused: ./.test(text))
			fail('unexpected error text: ' + text);
		const after = await api('GET', 'products/' + product.id);
		if (after.stock !== product.stock)
			fail('stock changed from ' + product.stock + ' to ' +
			    after.stock);
		if (await portal.locator('#cart li[data-key]').count() !== 1)
			fail('the cart was not kept');
		// The browser logs the 409 answer itself; nothing else may show.
		for (let i = problems.length - 1; i >= 0; i--)
			if (/status of 409/.test(problems[i]))
				problems.splice(i, 1);
	},

	// Stock changed in the admin page shows in the portal; a product out
	// of stock cannot be added to the cart.
	async 'stock'(context) {
		const product = await pickProduct(0);
		const portal = await openPage(context, '#portal');
		const admin = await openPage(context, '#admin');
		const inv = admin.locator('#inventory li[data-key="' +
		    product.id + '"]');
		const card = '#product-list li[data-key="' + product.id + '"]';

		await inv.locator('input').fill('37');
		await inv.locator('[type=submit]').click();
		await within(portal, LIVE_MS, 'stock 37 in the portal',
		    sel => {
			const li = document.querySelector(sel);
			return li && li.dataset.stock === '37' &&
			    /37 in stock/.test(li.textContent);
		    }, card);
		await inv.getByRole('button', { name: /^Add 10 of/ }).click();
		await within(portal, LIVE_MS, 'stock 47 in the portal',
		    sel => document.querySelector(sel).dataset.stock === '47',
		    card);
		await inv.locator('input').fill('3');
		await inv.locator('[type=submit]').click();
		await within(portal, LIVE_MS, 'low stock in the portal',
		    sel => /Low stock: 3 left/.test(
		    document.querySelector(sel).textContent), card);
		await within(admin, LIVE_MS, 'a low-stock alert',
		    name => [...document.querySelectorAll('#alerts .alert-name')]
		    .some(n => n.textContent === name), product.name);
		await inv.locator('input').fill('0');
		await inv.locator('[type=submit]').click();
		await within(portal, LIVE_MS, 'out of stock in the portal',
		    sel => {
			const li = document.querySelector(sel);
			return li.dataset.stock === '0' &&
			    li.querySelector('button').disabled;
		    }, card);
		await api('PUT', 'products/' + product.id + '/stock',
		    { stock: product.stock });
		await within(portal, LIVE_MS, 'stock restored in the portal',
		    ([sel, n]) => document.querySelector(sel).dataset.stock ===
		    String(n), [card, product.stock]);
		await assertNoReload(portal, 'the portal');
	},

	// The live dashboard's charts and counts move as orders come in.
	async 'live'(context) {
		const page = await openPage(context, '#live');
		await page.waitForSelector('#chart-orders canvas');
		await page.waitForSelector('#chart-revenue[data-plotted]');
		const plotted = () => page.evaluate(() => ({
			orders: Number(document.getElementById('chart-orders')
			    .dataset.plotted),
			revenue: Number(document.getElementById('chart-revenue')
			    .dataset.plotted),
			count: document.getElementById('kpi-orders').textContent
		}));
		const before = await plotted();
		const pixels = await page.locator('#chart-orders canvas')
		    .screenshot();
		await page.getByRole('button', { name: 'Simulate new order' })
		    .click();
		await within(page, LIVE_MS, 'the orders chart to grow',
		    n => Number(document.getElementById('chart-orders')
		    .dataset.plotted) > n, before.orders);
		const after = await plotted();
		if (!(after.revenue > before.revenue))
			fail('the revenue chart did not grow: ' +
			    JSON.stringify([before, after]));
		if (after.count === before.count)
			fail('the orders count did not change');
		log('plotted before ' + JSON.stringify(before) + ', after ' +
		    JSON.stringify(after));
		// The canvas was drawn anew (uPlot paints on the next frame).
		await page.evaluate(() => new Promise(r =>
		    requestAnimationFrame(() => requestAnimationFrame(r))));
		const repainted = await page.locator('#chart-orders canvas')
		    .screenshot();
		if (before.orders === 0 && repainted.equals(pixels))
			fail('the orders chart was not redrawn');
		await within(page, LOAD_MS, 'system health',
		    () => document.getElementById('health-status').textContent ===
		    'ok');
		await assertNoReload(page, 'the live dashboard');
	},

	// A product whose name is markup shows as text and runs nothing, both
	// from REST (inserted before the page loads) and from an event
	// (inserted while the page is open). tests/www.bats inserts the first
	// and names in OC_XSS_INSERT a program that inserts the second.
	async 'xss'(context) {
		const name = '<img src=x onerror=alert(1)>';
		const portal = await openPage(context, '#portal');
		const admin = await openPage(context, '#admin');
		for (const page of [portal, admin]) {
			const sel = page === portal ? '#product-list .product-name' :
			    '#inventory .inv-name';
			await within(page, LOAD_MS, 'the product named as markup',
			    ([s, n]) => [...document.querySelectorAll(s)]
			    .some(e => e.textContent === n), [sel, name]);
		}
		// A second one, written while the pages are open, arrives by event.
		if (process.env.OC_XSS_INSERT) {
			execFileSync(process.env.OC_XSS_INSERT,
			    { stdio: ['ignore', 'ignore', 'inherit'] });
			for (const page of [portal, admin])
				await within(page, LOAD_MS, 'the product from an event',
				    n => [...document.querySelectorAll(
				    '#product-list .product-name')]
				    .filter(e => e.textContent === n).length >= 2,
				    name);
		}
		const imgs = await portal.evaluate(() =>
		    document.querySelectorAll('main img').length +
		    document.querySelectorAll('img[src="x"]').length);
		if (imgs)
			fail('markup from the database became elements');
		// Give an injected handler every chance to run.
		await portal.evaluate(() => new Promise(r => setTimeout(r, 300)));
		if (dialogs.length)
			fail('a dialog opened: ' + dialogs.join('; '));
	},

	// Every view, at phone and desktop width, saved as a screenshot; the
	// page fits the phone without sideways scrolling. The sign-in view
	// first, then the views of the admin.
	async 'screenshots'(context) {
		const signin = await newPage(context);
		await signin.waitForSelector('#demo-accounts:not([hidden])');
		const widths = [[2560, 1440], [1920, 1080], [1280, 800], [1024, 768],
		    [375, 812], [360, 740]];
		const violations = [];
		for (const [w, h] of widths) {
			await signin.setViewportSize({ width: w, height: h });
			const file = path.join(outDir, 'signin-' + w + '.png');
			await signin.screenshot({ path: file, fullPage: true });
			log('saved ' + file);
			const overflow = await signin.evaluate(() =>
			    document.documentElement.scrollWidth -
			    document.documentElement.clientWidth);
			if (overflow > 0)
				fail('sign-in at ' + w + ' px scrolls sideways by ' +
				    overflow + ' px');
			for (const v of await axeProblems(signin))
				violations.push('sign-in at ' + w + ' px: ' + v);
		}
		await signin.close();
		const page = await openPage(context, '#portal');
		for (const [w, h] of widths) {
			await page.setViewportSize({ width: w, height: h });
			for (const view of ['portal', 'admin', 'live']) {
				await page.evaluate(v => { location.hash = v; }, view);
				await page.waitForSelector('#view-' + view +
				    ':not([hidden])');
				await page.evaluate(() => new Promise(r =>
				    setTimeout(r, 300)));
				const file = path.join(outDir, view + '-' + w + '.png');
				await page.screenshot({ path: file, fullPage: true });
				log('saved ' + file);
				const overflow = await page.evaluate(() =>
				    document.documentElement.scrollWidth -
				    document.documentElement.clientWidth);
				if (overflow > 0)
					fail(view + ' at ' + w + ' px scrolls sideways by ' +
					    overflow + ' px');
				for (const v of await axeProblems(page))
					violations.push(view + ' at ' + w + ' px: ' + v);
			}
		}
		if (violations.length)
			fail('axe-core:\n' + violations.join('\n'));
		log('axe-core: no serious or critical violation in any view at ' +
		    widths.map(x => x[0]).join(', ') + ' px');
	},

	// The tabs, demo controls and view controls are reachable with the
	// keyboard, and the links switch views.
	async 'keyboard'(context) {
		const page = await openPage(context, '#portal');
		const reached = new Set();
		for (let i = 0; i < 40; i++) {
			await page.keyboard.press('Tab');
			const label = await page.evaluate(() => {
				const a = document.activeElement;
				return a ? (a.id || a.textContent.trim()) : '';
			});
			reached.add(label);
		}
		for (const want of ['tab-admin', 'tab-live',
		    'Simulate new order', 'customer-select'])
			if (!reached.has(want))
				fail(want + ' not reached with Tab; reached: ' +
				    [...reached].join(', '));
		await page.focus('#tab-admin');
		await page.keyboard.press('Enter');
		await page.waitForSelector('#view-admin:not([hidden])');
		await page.waitForSelector('#view-portal[hidden]',
		    { state: 'attached' });
	},

	// Nobody signed in: the sign-in view only. A wrong password, too many
	// attempts and an unreachable server are said in words, and no view
	// opens. The last two are answered in the browser (the real limit
	// would lock the suite's address out; the server stays up).
	async 'signin-errors'(context) {
		const page = await newPage(context);
		await assertSignedOut(page, 'at start');
		// The local demo lists its accounts; picking one fills the email.
		await page.waitForSelector('#demo-accounts:not([hidden])',
		    { timeout: LOAD_MS });
		const alice = 'alice.martin@example.com';
		await page.click('#demo-account-list [data-email="' + alice + '"]');
		if (await page.inputValue('#signin-email') !== alice)
			fail('picking a demo account did not fill its email');
		if (!/password/.test(await page.textContent('#demo-accounts')))
			fail('the demo list does not say which password');

		const attempt = async (email, password, want) => {
			await page.$eval('#signin-error', n => { n.textContent = ''; });
			await signIn(page, email, password);
			await within(page, LOAD_MS, 'an error for ' + want,
			    () => document.getElementById('signin-error')
			    .textContent !== '');
			const text = await page.textContent('#signin-error');
			log('shown: ' + text);
			if (!want.test(text))
				fail('unexpected sign-in error: ' + text);
			await assertSignedOut(page, 'after "' + text + '"');
		};
		await attempt(ADMIN, 'not-the-password', /^Wrong email or password\.$/);
		await attempt('nobody@example.com', PASSWORD,
		    /^Wrong email or password\.$/);
		await attempt('', '', /^Enter your email and your password\.$/);

		const post = (fn) => page.route('**/api/session', (route) =>
		    route.request().method() === 'POST' ? fn(route) :
		    route.continue());
		await post(route => route.fulfill({ status: 429,
		    headers: { 'Retry-After': '120' },
		    contentType: 'application/json',
		    body: JSON.stringify({ error: { code: 'too_many_logins',
			message: 'too many failed sign-ins; try again in 120 ' +
			'seconds' } }) }));
		await attempt(ADMIN, PASSWORD,
		    /^Too many failed sign-ins\. Try again in 2 minutes\.$/);
		await page.unroute('**/api/session');
		await post(route => route.abort('connectionrefused'));
		await attempt(ADMIN, PASSWORD, /^The server cannot be reached\./);
		await page.unroute('**/api/session');
		// Reloaded, still nobody: the page asks the server, not itself.
		await page.reload();
		await page.waitForSelector('#signin:not([hidden])',
		    { timeout: LOAD_MS });
		await assertSignedOut(page, 'after a reload');
	},

	// A customer sees the portal only: no customer picker, no admin or
	// live tab, no demo controls, and only their own orders, those from
	// before and those placed while the page is open, by them or for them.
	async 'customer'(context) {
		const email = 'alice.martin@example.com';
		const users = (await api('GET', 'users')).data;
		const me = users.find(u => u.email === email);
		const other = users.find(u => u.role === 'customer' &&
		    u.id !== me.id);
		const product = await pickProduct(10);
		const item = [{ productId: product.id, qty: 1 }];
		const mineBefore = await api('POST', 'orders',
		    { customerId: me.id, items: item });
		const theirsBefore = await api('POST', 'orders',
		    { customerId: other.id, items: item });
		const page = await openPage(context, '#portal', email);

		if (await page.textContent('#account-name') !== me.name)
			fail('the top bar does not name the customer');
		if (await page.textContent('#account-role') !== 'customer')
			fail('the top bar does not say "customer"');
		for (const sel of ['#customer-select', '#tab-admin', '#tab-live',
		    '#demo', '#view-admin', '#view-live'])
			if (await shown(page, sel))
				fail(sel + ' is shown to a customer');
		// An admin view asked for by its address shows the portal.
		await page.evaluate(() => { location.hash = 'admin'; });
		await within(page, LOAD_MS, 'the portal for #admin',
		    () => document.body.dataset.view === 'portal' &&
		    document.getElementById('view-admin').hidden);

		await within(page, LOAD_MS, 'the earlier order',
		    id => document.querySelector('#my-orders li[data-key="' +
		    id + '"]'), mineBefore.id);
		// Placed here: an order of this customer, without asking who.
		const card = page.locator('#product-list li[data-key="' +
		    product.id + '"]');
		await card.locator('button').click();
		await page.locator('#place-order').click();
		await page.waitForSelector('#order-ok:not(:empty)',
		    { timeout: LOAD_MS }).catch(async () => fail('order not ' +
		    'placed: ' + await page.textContent('#order-error')));
		const placed = (await api('GET', 'orders?limit=1&customerId=' +
		    me.id)).data[0];
		await within(page, LIVE_MS, 'the order placed here',
		    id => document.querySelector('#my-orders li[data-key="' +
		    id + '"]'), placed.id);
		// Another customer's order, then one of ours: when ours shows,
		// the other one (sent first) has been seen and kept out.
		const theirs = await api('POST', 'orders',
		    { customerId: other.id, items: item });
		const mine = await api('POST', 'orders',
		    { customerId: me.id, items: item });
		await within(page, LIVE_MS, 'an order made for the customer',
		    id => document.querySelector('#my-orders li[data-key="' +
		    id + '"]'), mine.id);
		const keys = await page.$$eval('#my-orders li[data-key]',
		    lis => lis.map(li => li.dataset.key));
		const held = await page.evaluate(() =>
		    [...window.ordercast.store.state.orders.values()]
		    .map(o => o.customerId));
		for (const id of [theirsBefore.id, theirs.id])
			if (keys.includes(id))
				fail('another customer\'s order ' + id + ' is shown');
		if (held.some(c => c !== me.id))
			fail('the page holds orders of other customers');
		for (const id of keys) {
			const o = await api('GET', 'orders/' + id);
			if (o.customerId !== me.id)
				fail('order ' + id + ' of ' + o.customerId + ' is shown');
		}
		log(keys.length + ' orders shown, all the customer\'s own');
		await assertNoReload(page, 'the portal');
	},

	// An admin sees all three views, the customer picker and the demo
	// controls, and is named in the top bar.
	async 'admin-views'(context) {
		const page = await openPage(context, '#portal');
		if (await page.textContent('#account-role') !== 'admin')
			fail('the top bar does not say "admin"');
		for (const sel of ['#customer-select', '#demo', '#sign-out'])
			if (!await shown(page, sel))
				fail(sel + ' is not shown to the admin');
		for (const view of ['admin', 'live', 'portal']) {
			await page.click('#tab-' + view);
			await page.waitForSelector('#view-' + view + ':not([hidden])',
			    { timeout: LOAD_MS });
		}
		if (await page.locator('#customer-select option').count() < 2)
			fail('the admin has no customers to pick from');
		await assertNoReload(page, 'the dashboard');
	},

	// Sign-out returns to the sign-in view and closes the event stream;
	// a reload stays signed out.
	async 'signout'(context) {
		const page = await openPage(context, '#admin');
		await page.evaluate(() => { window.__ocFeed = window.ordercast.feed; });
		await page.click('#sign-out');
		await page.waitForSelector('#signin:not([hidden])',
		    { timeout: LOAD_MS });
		await assertSignedOut(page, 'after sign-out');
		await within(page, LOAD_MS, 'the event stream closed',
		    () => window.__ocFeed.source.readyState === EventSource.CLOSED &&
		    window.ordercast.feed === null);
		if (await page.evaluate(() => window.ordercast.store.state.orders
		    .size))
			fail('orders are still held after sign-out');
		await page.reload();
		await page.waitForSelector('#signin:not([hidden]), ' +
		    '#account:not([hidden])', { timeout: LOAD_MS });
		await assertSignedOut(page, 'after a reload');
		const status = await page.evaluate(async () =>
		    (await fetch('api/session')).status);
		if (status !== 401)
			fail('the session still answers ' + status + ' after sign-out');
	},

	// A session ended elsewhere (here: signed out with its token by
	// another client): the next request of the page is 401, and the page
	// goes back to the sign-in view saying why.
	async 'session-ended'(context) {
		const page = await openPage(context, '#admin');
		const cookie = (await context.cookies()).find(c =>
		    c.name === 'ordercast_session');
		if (!cookie || !cookie.httpOnly || cookie.sameSite !== 'Strict')
			fail('no HttpOnly, SameSite=Strict session cookie: ' +
			    JSON.stringify(cookie));
		if (await page.evaluate(() => document.cookie.includes('ordercast')))
			fail('the page can read the session cookie');
		await api('DELETE', 'session', undefined, cookie.value);
		const product = await pickProduct(0);
		await page.locator('#inventory li[data-key="' + product.id + '"]')
		    .getByRole('button', { name: /^Add 10 of/ }).click();
		await within(page, LOAD_MS, 'the sign-in view',
		    () => !document.getElementById('signin').hidden);
		const note = await page.textContent('#signin-note');
		if (note !== ENDED)
			fail('unexpected note: ' + note);
		await assertSignedOut(page, 'after the session ended');
		const after = await api('GET', 'products/' + product.id);
		if (after.stock !== product.stock)
			fail('stock changed without a session');
		// The browser logs the 401 answer itself; expected here.
		for (let i = problems.length - 1; i >= 0; i--)
			if (/status of 401/.test(problems[i]))
				problems.splice(i, 1);
	},

	// A user named as markup: the top bar and the admin's customer
	// picker show the name as text and run nothing. tests/www.bats gives
	// the customer in OC_XSS_EMAIL that name.
	async 'xss-name'(context) {
		const name = '<img src=x onerror=alert(1)>';
		const page = await openPage(context, '#portal',
		    process.env.OC_XSS_EMAIL);
		if (await page.textContent('#account-name') !== name)
			fail('the name is not shown as text: ' +
			    await page.textContent('#account-name'));
		const admin = await openPage(await launch(), '#portal');
		await within(admin, LOAD_MS, 'the name in the customer picker',
		    n => [...document.querySelectorAll('#customer-select option')]
		    .some(o => o.textContent.startsWith(n + ' (')), name);
		for (const p of [page, admin])
			if (await p.evaluate(() => document.querySelectorAll('img')
			    .length))
				fail('markup in a name became elements');
	},

	// On system.resync the page reloads its state over REST: tests/www.bats
	// stops the watcher after "ready", writes an order behind its back (so
	// no event tells of it), then publishes a system.resync.
	async 'resync'(context) {
		const page = await openPage(context, '#admin');
		await page.evaluate(() => {
			window.__ocLoads = 0;
			window.ordercast.store.on('loaded', () => window.__ocLoads++);
		});
		process.stdout.write('ready\n');
		const idFile = process.env.OC_RESYNC_ORDER_FILE;
		const deadline = Date.now() + LOAD_MS;
		while (!(fs.existsSync(idFile) && fs.statSync(idFile).size > 0)) {
			if (Date.now() > deadline)
				fail('no order written by the test');
			await new Promise(r => setTimeout(r, 50));
		}
		const id = fs.readFileSync(idFile, 'utf8').trim();
		await within(page, LOAD_MS, 'the order written behind its back',
		    oid => document.querySelector('#orders-body tr[data-key="' +
		    oid + '"]'), id);
		const loads = await page.evaluate(() => window.__ocLoads);
		if (loads < 1)
			fail('the state was not reloaded over REST');
		await assertNoReload(page, 'the admin page');
	},

	// The connection indicator follows the event stream: tests/www.bats
	// stops ordercast-sse after this prints "ready", then starts it again.
	async 'connection'(context) {
		const page = await openPage(context, '#admin');
		process.stdout.write('ready\n');
		await within(page, LOAD_MS, 'the indicator leaving "live"',
		    () => document.getElementById('conn').dataset.state !== 'live');
		const state = await page.$eval('#conn', n => n.dataset.state);
		log('indicator: ' + state);
		await within(page, 30000, 'the indicator back to "live"',
		    () => document.getElementById('conn').dataset.state === 'live');
		// Events flow again after the reconnect.
		const product = await pickProduct(0);
		await api('PUT', 'products/' + product.id + '/stock',
		    { stock: product.stock + 1 });
		await within(page, LIVE_MS, 'an event after the reconnect',
		    ([id, n]) => {
			const li = document.querySelector('#inventory li[data-key="' +
			    id + '"]');
			return li && li.querySelector('.inv-stock').textContent ===
			    String(n);
		    }, [product.id, product.stock + 1]);
		// The browser logs the failed reconnects; expected here.
		problems.length = 0;
	}
};

// The ids and count the API gives for a filter, as the admin.
async function apiOrders(where, sort, limit) {
	const p = new URLSearchParams({ sort, limit: String(limit) });
	if (where)
		p.set('where', where);
	const list = await api('GET', 'orders?' + p);
	const count = await api('GET', 'orders/count?' +
	    new URLSearchParams(where ? { where } : {}));
	return { ids: list.data.map(o => o.id), count: count.count };
}

// The ids of the rows the admin page shows, once it has loaded them.
async function shownOrders(page) {
	await page.waitForFunction(() => {
		const c = document.getElementById('orders-count').textContent;
		return c && c !== 'Loading…';
	}, null, { timeout: LOAD_MS });
	return page.$$eval('#orders-body tr[data-key]',
	    trs => trs.map(tr => tr.dataset.key));
}

// The total the admin page's count names ("1–25 of 426").
async function shownTotal(page) {
	const text = await page.textContent('#orders-count');
	if (text === 'No orders')
		return 0;
	const m = /of ([\d,]+)$/.exec(text);
	return m ? Number(m[1].replace(/,/g, '')) : null;
}

// A filter result of the page must be the API's: same rows, same count.
async function sameAsApi(page, what, where, sort, limit) {
	const want = await apiOrders(where, sort, limit);
	const got = await shownOrders(page);
	if (JSON.stringify(got) !== JSON.stringify(want.ids))
		fail(what + ': the page shows ' + got.length + ' orders, the API ' +
		    want.ids.length + ' (' + where + ')');
	const total = await shownTotal(page);
	if (total !== want.count)
		fail(what + ': the page counts ' + total + ', the API ' +
		    want.count);
	log(what + ': ' + got.length + ' rows of ' + total + ', as the API');
}

// Pages of one context that hold the shared connection.
async function holders(pages) {
	const out = [];
	for (const p of pages)
		if (await p.evaluate(() =>
		    document.documentElement.dataset.feedHolder === 'true'))
			out.push(p);
	return out;
}

// Record in the page every stock value of one product that events bring.
async function recordStock(page, productId) {
	await page.evaluate((id) => {
		window.__ocStock = [];
		window.ordercast.store.on('event', (e) => {
			if (e.type === 'product.updated' && e.key === id && e.doc)
				window.__ocStock.push(e.doc.stock);
		});
	}, productId);
}

let axeSource = null;

// Axe-core in the page: serious and critical violations, as text.
async function axeProblems(page) {
	// Evaluated, not a script tag: the page's CSP allows no inline
	// script, rightly.
	if (!axeSource)
		axeSource = fs.readFileSync(path.join(path.dirname(
		    new URL(import.meta.url).pathname), '..', '..', 'node_modules',
		    'axe-core', 'axe.min.js'), 'utf8');
	const before = problems.length;
	if (!await page.evaluate(() => Boolean(window.axe)))
		await page.evaluate(axeSource);
	const result = await page.evaluate(() => window.axe.run(document, {
		runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',
		    'wcag21aa', 'best-practice'] }
	}));
	// Axe itself tries a style element, which the CSP refuses: that
	// error is the tool's, not the page's.
	for (let i = problems.length - 1; i >= before; i--)
		if (/Applying inline style violates/.test(problems[i]))
			problems.splice(i, 1);
	return result.violations.filter(v => v.impact === 'serious' ||
	    v.impact === 'critical').map(v => v.id + ' (' + v.impact + '): ' +
	    v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') +
	    (v.nodes.length > 3 ? ' and ' + (v.nodes.length - 3) + ' more' :
	    ''));
}

Object.assign(checks, {
	// The admin's filters, search and sort give the API's results for
	// the same filter, counts included; the address keeps the query.
	async 'orders-query'() {
		const page = await openPage(await launch(), '#admin');
		await sameAsApi(page, 'all orders', '', '-createdAt', 25);
		await page.selectOption('#admin-status-filter', 'delivered');
		await page.waitForFunction(() =>
		    location.hash.includes('status=delivered'));
		await sameAsApi(page, 'delivered', "status = 'delivered'",
		    '-createdAt', 25);
		await page.selectOption('#admin-status-filter', '');
		// A product word, in another case than the catalog's.
		const order = (await api('GET', 'orders?limit=1')).data[0];
		const word = order.items[0].name.split(' ')[0].toLowerCase();
		await page.fill('#q-text', word);
		await page.click('#q-submit');
		await page.waitForFunction(w => location.hash.includes('q=' + w),
		    encodeURIComponent(word));
		const like = "'%" + word.replace(/'/g, "''") + "%'";
		const users = (await api('GET', 'users')).data;
		const named = users.filter(u => u.role !== 'admin' &&
		    (u.name.toLowerCase().includes(word) ||
		    u.email.toLowerCase().includes(word)));
		const byProduct = 'items.name ILIKE ' + like +
		    ' OR items.sku ILIKE ' + like;
		await sameAsApi(page, 'search "' + word + '"', named.length ?
		    'customerId IN (' + named.map(u => "'" + u.id + "'")
		    .join(', ') + ') OR ' + byProduct : byProduct, '-createdAt', 25);
		// A customer by name.
		const who = users.find(u => u.role === 'customer' &&
		    !u.name.includes('<'));
		await page.fill('#q-text', who.name);
		await page.click('#q-submit');
		await page.waitForFunction(() => location.hash.includes('q='));
		const same = users.filter(u => u.role !== 'admin' &&
		    (u.name.toLowerCase().includes(who.name.toLowerCase()) ||
		    u.email.toLowerCase().includes(who.name.toLowerCase())));
		const likeName = "'%" + who.name.replace(/'/g, "''") + "%'";
		await sameAsApi(page, 'customer "' + who.name + '"',
		    'customerId IN (' + same.map(u => "'" + u.id + "'")
		    .join(', ') + ') OR items.name ILIKE ' + likeName +
		    ' OR items.sku ILIKE ' + likeName, '-createdAt', 25);
		// A date range: today only, sorted by total, most first.
		await page.click('#q-clear');
		const today = new Date().toISOString().slice(0, 10);
		const tomorrow = new Date(Date.now() + 86400000).toISOString()
		    .slice(0, 10);
		await page.fill('#q-from', today);
		await page.fill('#q-to', today);
		await page.dispatchEvent('#q-to', 'change');
		await page.click('#orders-head button[data-sort="totalCents"]');
		await page.waitForFunction(() =>
		    location.hash.includes('sort=-totalCents'));
		const range = "createdAt >= '" + today + "' AND createdAt < '" +
		    tomorrow + "'";
		await sameAsApi(page, 'today by total', range, '-totalCents', 25);
		const sortState = await page.getAttribute(
		    '#orders-head th[data-sort="totalCents"]', 'aria-sort');
		if (sortState !== 'descending')
			fail('the Total column says aria-sort=' + sortState);
		// The address holds the query: a reload shows the same.
		const hash = await page.evaluate(() => location.hash);
		const again = await openPage(await launch(), hash);
		await sameAsApi(again, 'reloaded ' + hash, range, '-totalCents', 25);
		if (await again.inputValue('#q-from') !== today)
			fail('the reloaded page lost its date range');
	},

	// Page by page the admin reaches the oldest order; the pages hold
	// every order once.
	async 'orders-paging'(context) {
		let count = (await api('GET', 'orders/count')).count;
		while (count < 60) {
			await api('POST', 'simulate/new-order', {});
			count++;
		}
		const page = await openPage(context, '#admin');
		await page.selectOption('#q-limit', '25');
		const seen = new Set();
		let pages = 0;
		for (;;) {
			const ids = await shownOrders(page);
			pages++;
			for (const id of ids)
				seen.add(id);
			if (await page.isDisabled('#orders-next'))
				break;
			if (pages > 1000)
				fail('paging does not end');
			const first = ids[0];
			await page.click('#orders-next');
			await page.waitForFunction(f => {
				const tr = document.querySelector('#orders-body tr[data-key]');
				return tr && tr.dataset.key !== f;
			}, first, { timeout: LOAD_MS });
		}
		const total = (await api('GET', 'orders/count')).count;
		const oldest = (await api('GET', 'orders?sort=createdAt&limit=1'))
		    .data[0];
		const last = await shownOrders(page);
		if (last[last.length - 1] !== oldest.id)
			fail('the last page does not end with the oldest order');
		if (seen.size !== total)
			fail('the pages held ' + seen.size + ' orders of ' + total);
		log(pages + ' pages, ' + seen.size + ' orders, the oldest last');
		await page.click('#orders-prev');
		await page.waitForFunction(() => !document.getElementById(
		    'orders-next').disabled, null, { timeout: LOAD_MS });
	},

	// Ten tabs of one browser all receive an order placed in an eleventh,
	// over one connection.
	async 'tabs'(context) {
		const pages = [];
		for (let i = 0; i < 10; i++)
			pages.push(await openPage(context, i % 2 ? '#live' : '#admin'));
		const held = await holders(pages);
		if (held.length !== 1)
			fail(held.length + ' tabs hold a stream; one should');
		const product = await pickProduct(2);
		const portal = await openPage(context, '#portal');
		for (const p of pages)
			await p.evaluate(() => {
				window.__ocOrders = new Set();
				window.ordercast.store.on('event', (e) => {
					if (e.type === 'order.created')
						window.__ocOrders.add(e.key);
				});
			});
		const card = portal.locator('#product-list li[data-key="' +
		    product.id + '"]');
		await card.locator('button').click();
		await portal.locator('#place-order').click();
		await portal.waitForSelector('#order-ok:not(:empty)',
		    { timeout: LOAD_MS });
		const placedAt = Date.now();
		const customerId = await portal.$eval('#customer-select',
		    s => s.value);
		const order = (await api('GET', 'orders?limit=1&customerId=' +
		    customerId)).data[0];
		for (let i = 0; i < pages.length; i++)
			await within(pages[i], LIVE_MS - (Date.now() - placedAt),
			    'the order in tab ' + (i + 1),
			    id => window.__ocOrders.has(id), order.id);
		log('all 10 tabs had the order ' + (Date.now() - placedAt) +
		    ' ms after the API answered');
		for (const p of pages.concat(portal))
			if (await p.$eval('#conn', n => n.dataset.state) !== 'live')
				fail('a tab is not live');
	},

	// Closing the tab that holds the connection hands it to another
	// within 2 s, and the others miss none of the events sent meanwhile.
	async 'handover'(context) {
		const pages = [];
		for (let i = 0; i < 3; i++)
			pages.push(await openPage(context, '#admin'));
		const product = await pickProduct(0);
		for (const p of pages)
			await recordStock(p, product.id);
		const [holder] = await holders(pages);
		if (!holder)
			fail('no tab holds the stream');
		const rest = pages.filter(p => p !== holder);
		const sent = [];
		let n = 500;
		const send = async () => {
			n++;
			await api('PUT', 'products/' + product.id + '/stock',
			    { stock: n });
			sent.push(n);
		};
		// Every tab has seen an event, so each knows where the stream
		// stands when it takes over (a tab that has seen none reloads
		// its state over REST instead).
		await send();
		for (const p of pages)
			await within(p, LOAD_MS, 'the first stock change in a tab',
			    want => window.__ocStock.includes(want), n);
		await send();
		await holder.close();
		const closedAt = Date.now();
		const sending = (async () => {
			for (let i = 0; i < 10; i++) {
				await send();
				await new Promise(r => setTimeout(r, 100));
			}
		})();
		const deadline = closedAt + 2000;
		let next = [];
		while (Date.now() < deadline) {
			next = await holders(rest);
			if (next.length === 1 && await next[0].$eval('#conn',
			    n => n.dataset.state) === 'live')
				break;
			await new Promise(r => setTimeout(r, 20));
		}
		if (next.length !== 1)
			fail('no tab took the stream over within 2 s');
		log('handed over in ' + (Date.now() - closedAt) + ' ms');
		await sending;
		// Each value sent, once and in order (other writers' changes
		// of the product, if any, do not count).
		for (const p of rest) {
			try {
				await within(p, LOAD_MS, 'every stock change in a tab',
				    want => JSON.stringify(window.__ocStock.filter(
				    v => want.includes(v))) === JSON.stringify(want),
				    sent);
			} catch (e) {
				log('sent ' + JSON.stringify(sent) + ', seen ' +
				    JSON.stringify(await p.evaluate(() =>
				    window.__ocStock)) + ', holder ' +
				    await p.evaluate(() => document.documentElement
				    .dataset.feedHolder));
				throw e;
			}
		}
		log(sent.length + ' events, none lost, none twice');
		await api('PUT', 'products/' + product.id + '/stock',
		    { stock: product.stock });
	},

	// The pill reads degraded while the watcher is down and live when
	// it is back: tests/www.bats stops the watcher after "ready" and
	// starts it again after "degraded:".
	async 'degraded'(context) {
		const page = await openPage(context, '#portal');
		const stopped = process.env.OC_WATCH_STOPPED;
		process.stdout.write('ready\n');
		const t0 = Date.now();
		while (!fs.existsSync(stopped)) {
			if (Date.now() - t0 > LOAD_MS)
				fail('the watcher was not stopped');
			await new Promise(r => setTimeout(r, 20));
		}
		const ms = await within(page, 5000, 'the pill reading degraded',
		    () => document.getElementById('conn').dataset.state ===
		    'degraded');
		const text = await page.textContent('#conn-text');
		log('degraded: "' + text + '" ' + ms + ' ms after the watcher ' +
		    'stopped');
		if (!/watcher/i.test(text))
			fail('the pill does not say why: ' + text);
		const back = await within(page, 30000, 'the pill back to live',
		    () => document.getElementById('conn').dataset.state === 'live');
		log('live again ' + back + ' ms later');
	},

	// A burst of 20 events a second for 30 s: no task of the admin page
	// takes 100 ms or more.
	async 'burst'(context) {
		const page = await openPage(context, '#admin');
		await page.evaluate(() => {
			window.__ocLong = [];
			window.__ocEvents = 0;
			window.ordercast.store.on('event', () => window.__ocEvents++);
			new PerformanceObserver((list) => {
				for (const e of list.getEntries())
					window.__ocLong.push(e.duration);
			}).observe({ type: 'longtask', buffered: false });
		});
		const products = (await api('GET', 'products')).data
		    .filter(p => !p.name.includes('<'));
		const t0 = Date.now();
		let i = 0;
		const inflight = [];
		while (Date.now() - t0 < 30000) {
			const due = t0 + i * 50;
			const wait = due - Date.now();
			if (wait > 0)
				await new Promise(r => setTimeout(r, wait));
			const p = products[i % products.length];
			inflight.push(i % 2 ? api('PUT', 'products/' + p.id + '/stock',
			    { stock: 200 + (i % 50) }) :
			    api('POST', 'simulate/new-order', {}));
			i++;
			if (inflight.length > 40)
				await inflight.shift();
		}
		await Promise.all(inflight);
		await page.evaluate(() => new Promise(r => setTimeout(r, 1000)));
		const { long, events } = await page.evaluate(() =>
		    ({ long: window.__ocLong, events: window.__ocEvents }));
		const worst = long.length ? Math.max(...long) : 0;
		log(i + ' requests in ' + (Date.now() - t0) + ' ms, ' + events +
		    ' events received, ' + long.length + ' long tasks, longest ' +
		    Math.round(worst) + ' ms');
		if (events < 20 * 30)
			fail('only ' + events + ' events arrived');
		if (worst >= 100)
			fail('a task took ' + Math.round(worst) + ' ms');
		for (const p of products)
			await api('PUT', 'products/' + p.id + '/stock',
			    { stock: p.stock });
	},

	// CSV of every page of the current query, with a header row; the
	// page says how many rows it wrote.
	async 'export'(context) {
		const page = await openPage(context, '#admin?status=pending');
		await shownOrders(page);
		const want = (await api('GET', 'orders/count?' +
		    new URLSearchParams({ where: "status = 'pending'" }))).count;
		const [download] = await Promise.all([
			page.waitForEvent('download', { timeout: LOAD_MS }),
			page.click('#orders-export')
		]);
		const file = path.join(outDir, 'orders-pending.csv');
		await download.saveAs(file);
		const lines = fs.readFileSync(file, 'utf8').split('\r\n')
		    .filter(Boolean);
		if (!/^id,createdAt,customerId,customer,email,status/.test(lines[0]))
			fail('no header row: ' + lines[0]);
		if (lines.length - 1 !== want)
			fail(lines.length - 1 + ' rows written, ' + want + ' pending');
		if (lines.slice(1).some(l => !l.includes(',pending,')))
			fail('a row of another status');
		const said = await page.textContent('#export-status');
		if (!said.includes(String(want)))
			fail('the page says: ' + said);
		log(said);
	},

	// An order's detail shows its items, total, customer and history.
	async 'detail'(context) {
		const product = await pickProduct(2);
		const customer = (await api('GET', 'users?role=customer')).data
		    .find(u => !u.name.includes('<'));
		// Placed by the customer, moved by the admin.
		const res = await fetch(base + '/api/session', { method: 'POST',
		    headers: { 'Content-Type': 'application/json' },
		    body: JSON.stringify({ email: customer.email,
		    password: PASSWORD }) });
		const token = (await res.json()).token;
		const order = await api('POST', 'orders', { customerId: customer.id,
		    items: [{ productId: product.id, qty: 1 }] }, token);
		await api('PUT', 'orders/' + order.id + '/status',
		    { status: 'processing' });
		const page = await openPage(context, '#admin');
		const row = '#orders-body tr[data-key="' + order.id + '"]';
		await page.waitForSelector(row, { timeout: LOAD_MS });
		await page.click(row + ' .order-link');
		await page.waitForSelector('#detail-history li:nth-child(2)',
		    { timeout: LOAD_MS });
		const text = await page.textContent('#order-detail');
		const me = (await api('GET', 'session')).user;
		for (const want of [product.name, customer.name, customer.email,
		    'Pending', 'Processing', 'by ' + customer.name, 'by ' + me.name])
			if (!text.includes(want))
				fail('the detail lacks "' + want + '": ' + text);
		await page.keyboard.press('Escape');
		await page.waitForSelector('#order-detail:not([open])',
		    { state: 'attached' });
		const focused = await page.evaluate(() =>
		    document.activeElement.classList.contains('order-link'));
		if (!focused)
			fail('focus did not return to the order');
	},

	// The cart tells when an item ran short and offers what is left; a
	// refusal names the product in words and goes once its cause has.
	async 'cart-short'(context) {
		const product = await pickProduct(0);
		const setStock = n => api('PUT', 'products/' + product.id +
		    '/stock', { stock: n });
		await setStock(5);
		const portal = await openPage(context, '#portal');
		const card = portal.locator('#product-list li[data-key="' +
		    product.id + '"]');
		await within(portal, LIVE_MS, 'stock 5 shown', sel =>
		    document.querySelector(sel).dataset.stock === '5',
		    '#product-list li[data-key="' + product.id + '"]');
		await card.locator('input.qty').fill('3');
		await card.locator('button').click();
		const item = '#cart li[data-key="' + product.id + '"]';
		await setStock(2);
		await within(portal, LIVE_MS, 'the cart saying only 2 are left',
		    ([sel, name]) => {
			const li = document.querySelector(sel);
			const fix = li && li.querySelector('.cart-fix');
			return fix && !fix.hidden &&
			    fix.textContent === 'Order 2 instead' &&
			    li.textContent.includes('Only 2 left of ' + name);
		    }, [item, product.name]);
		await portal.click(item + ' .cart-fix');
		await within(portal, LIVE_MS, 'the cart holding 2', sel => {
			const li = document.querySelector(sel);
			return li.querySelector('.cart-qty').textContent === '× 2' &&
			    li.querySelector('.cart-fix').hidden;
		}, item);
		// Short again, ordered anyway: refused in words.
		await setStock(1);
		await within(portal, LIVE_MS, 'the cart warning again', sel =>
		    !document.querySelector(sel + ' .cart-fix').hidden, item);
		await portal.click('#place-order');
		await portal.waitForSelector('#order-error:not(:empty)',
		    { timeout: LOAD_MS });
		const text = await portal.textContent('#order-error');
		log('refused: ' + text);
		if (!text.includes(product.name) || /[0-9a-f]{24}/i.test(text))
			fail('the refusal does not name the product in words: ' + text);
		await setStock(10);
		await within(portal, LIVE_MS, 'the error gone with its cause',
		    () => document.getElementById('order-error').textContent === '');
		await portal.click('#place-order');
		await portal.waitForSelector('#order-ok:not(:empty)',
		    { timeout: LOAD_MS });
		await setStock(product.stock);
		for (let i = problems.length - 1; i >= 0; i--)
			if (/status of 409/.test(problems[i]))
				problems.splice(i, 1);
	},

	// The charts say the values under the pointer; the traffic figures
	// say what they count.
	async 'chart-tip'(context) {
		const page = await openPage(context, '#live');
		await page.waitForSelector('#chart-orders canvas');
		const box = await page.locator('#chart-orders .u-over').boundingBox();
		await page.mouse.move(box.x + box.width - 4, box.y + box.height / 2);
		await within(page, LOAD_MS, 'a tooltip with the minute\'s orders',
		    () => {
			const tip = document.querySelector('#chart-orders .chart-tip');
			return tip && !tip.hidden &&
			    /^\d\d:\d\d( [AP]M)? · Orders: \d+$/.test(tip.textContent);
		    });
		log('tooltip: ' + await page.textContent('#chart-orders .chart-tip'));
		await within(page, LOAD_MS, 'the cache ratio\'s window and scope',
		    () => /all API processes, last \d+ s/.test(
		    document.getElementById('traffic').textContent));
	},

	// A status move made with the keyboard says what happened and keeps
	// the focus in the order's row.
	async 'move-focus'(context) {
		const product = await pickProduct(2);
		const customer = (await api('GET', 'users?role=customer')).data[0];
		const order = await api('POST', 'orders', { customerId: customer.id,
		    items: [{ productId: product.id, qty: 1 }] });
		const page = await openPage(context, '#admin');
		const row = '#orders-body tr[data-key="' + order.id + '"]';
		await page.waitForSelector(row, { timeout: LOAD_MS });
		const short = order.id.slice(-6);
		for (const [button, status] of [['move', 'Processing'],
		    ['move', 'Shipped'], ['move', 'Delivered']]) {
			await page.focus(row + ' [data-action=' + button + ']');
			await page.keyboard.press('Enter');
			await within(page, LIVE_MS, 'the page saying ' + status,
			    ([id, s]) => document.getElementById('admin-status')
			    .textContent === 'Order #' + id + ' is now ' + s + '.',
			    [short, status]);
			await within(page, LIVE_MS, 'focus in the row', sel =>
			    document.querySelector(sel).contains(
			    document.activeElement) &&
			    document.activeElement !== document.body, row);
		}
		log('focus stayed on ' + await page.evaluate(() =>
		    document.activeElement.getAttribute('aria-label')));
	},

	// The low-stock panel shows the products under the threshold now,
	// sold out first, and follows the stock.
	async 'low-stock'(context) {
		const page = await openPage(context, '#admin');
		const product = await pickProduct(0);
		await api('PUT', 'products/' + product.id + '/stock', { stock: 0 });
		await within(page, LIVE_MS, 'the product among the sold out, first',
		    id => {
			const lis = [...document.querySelectorAll('#alerts li[data-key]')];
			const at = lis.findIndex(li => li.dataset.key === id);
			const out = li => /Sold out/.test(li.textContent);
			return at >= 0 && lis.slice(0, at + 1).every(out) &&
			    !lis.slice(at + 1).some((li, i, rest) => out(li) &&
			    rest.slice(0, i).some(x => !out(x)));
		    }, product.id);
		await within(page, LIVE_MS, 'a sold-out alert',
		    name => document.getElementById('toasts').textContent
		    .includes(name), product.name);
		await api('PUT', 'products/' + product.id + '/stock',
		    { stock: 1000 });
		await within(page, LIVE_MS, 'the product gone from the panel',
		    id => !document.querySelector('#alerts li[data-key="' + id +
		    '"]'), product.id);
		const listed = await page.$$eval('#alerts li[data-key]',
		    lis => lis.map(li => li.dataset.key));
		const threshold = (await api('GET', 'config')).lowStock;
		const low = (await api('GET', 'products')).data
		    .filter(p => p.stock < threshold).map(p => p.id);
		if (listed.length !== low.length || low.some(id =>
		    !listed.includes(id)))
			fail('the panel lists ' + listed.length + ' products, ' +
			    low.length + ' are low');
		await api('PUT', 'products/' + product.id + '/stock',
		    { stock: product.stock });
	}
});

async function main() {
	if (!checks[check]) {
		process.stderr.write('usage: dashboard.mjs ' +
		    Object.keys(checks).join('|') + ' BASE_URL OUT_DIR\n');
		process.exit(2);
	}
	fs.mkdirSync(outDir, { recursive: true });
	const context = await launch();
	let ok = false;
	try {
		await checks[check](context);
		if (dialogs.length)
			fail('dialogs opened: ' + dialogs.join('; '));
		if (problems.length)
			fail('console errors:\n' + problems.join('\n'));
		ok = true;
	} catch (e) {
		process.stdout.write('FAIL ' + check + ': ' + e.message + '\n');
		const pages = contexts.flatMap(c => c.pages())
		    .filter(p => p.url() !== 'about:blank');
		for (let i = 0; i < pages.length; i++) {
			const file = path.join(outDir, check + '-failure-' + i +
			    '.png');
			await pages[i].screenshot({ path: file, fullPage: true })
			    .catch(() => {});
			process.stdout.write('# screenshot ' + file + '\n');
		}
	} finally {
		for (const c of contexts)
			await c.close().catch(() => {});
		for (const dir of profiles)
			fs.rmSync(dir, { recursive: true, force: true });
	}
	process.exit(ok ? 0 : 1);
}

main().catch((e) => {
	process.stdout.write('FAIL ' + check + ': ' + e.stack + '\n');
	process.exit(1);
});
