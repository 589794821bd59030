// Browser checks of the dashboard in headless Debian chromium, driven by
// playwright-core. Run by tests/www.bats against a private stack:
//
//   node tests/browser/dashboard.mjs CHECK BASE_URL OUT_DIR
//
// CHECK is one of the functions in `checks` below. Exits 0 when the check
// passed, 1 with a message when it failed. Console errors, page errors
// and dialogs fail every check unless it says otherwise.

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

const problems = [];
const profiles = [];
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
	return context;
}

// A page that records console errors, page errors and dialogs.
async function openPage(context, hash, viewport) {
	const page = await context.newPage();
	if (viewport)
		await page.setViewportSize(viewport);
	const name = hash || '/';
	page.on('console', (msg) => {
		if (msg.type() === 'error')
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

async function api(method, p, body) {
	const res = await fetch(base + '/api/' + p, {
		method,
		headers: body ? { 'Content-Type': 'application/json' } : {},
		body: body ? JSON.stringify(body) : undefined
	});
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
		// Cancel from the admin page too.
		await admin.locator(rowSel + ' [data-action=cancel]').click();
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
	// page fits the phone without sideways scrolling.
	async 'screenshots'(context) {
		const page = await openPage(context, '#portal');
		for (const [w, h] of [[1920, 1080], [375, 812]]) {
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
			}
		}
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
		const pages = context.pages().filter(p => p.url() !== 'about:blank');
		for (let i = 0; i < pages.length; i++) {
			const file = path.join(outDir, check + '-failure-' + i +
			    '.png');
			await pages[i].screenshot({ path: file, fullPage: true })
			    .catch(() => {});
			process.stdout.write('# screenshot ' + file + '\n');
		}
	} finally {
		await context.close();
		for (const dir of profiles)
			fs.rmSync(dir, { recursive: true, force: true });
	}
	process.exit(ok ? 0 : 1);
}

main().catch((e) => {
	process.stdout.write('FAIL ' + check + ': ' + e.stack + '\n');
	process.exit(1);
});
