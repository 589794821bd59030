// Admin dashboard: every order, newest first, with one-click status
// moves; inventory with +10/-10 and a set-stock field; low-stock alerts.

import { el, reconcile, emptyLine, setText, flash } from './dom.js';
import { put } from './api.js';
import { cents, dateTime, time, shortId, statusLabel } from './format.js';
import * as store from './store.js';
import { config, nextStatus, canCancel, isLowStock, CANCELLED }
    from './config.js';

// Button words for the forward moves; others show the status name.
const MOVE_LABEL = { processing: 'Process', shipped: 'Ship',
	delivered: 'Deliver' };
// Rows shown at first, and added by each press of "Show more".
const PAGE = 25;

export function initAdmin() {
	const body = document.getElementById('orders-body');
	const filter = document.getElementById('admin-status-filter');
	const adminError = document.getElementById('admin-error');
	const inventory = document.getElementById('inventory');
	const inventoryError = document.getElementById('inventory-error');
	const alerts = document.getElementById('alerts');
	const more = document.getElementById('orders-more');
	let shown = PAGE;

	for (const s of config.statuses)
		filter.append(el('option', { value: s }, statusLabel(s)));

	async function moveOrder(id, status, buttons) {
		adminError.textContent = '';
		for (const b of buttons)
			b.disabled = true;
		try {
			await put('orders/' + encodeURIComponent(id) + '/status',
			    { status });
		} catch (e) {
			adminError.textContent = 'Order ' + shortId(id) + ': ' +
			    e.message;
			for (const b of buttons)
				b.disabled = false;
		}
	}

	function customerName(id) {
		const u = store.state.users.get(id);
		return u ? u.name : shortId(id);
	}

	function createRow() {
		const move = el('button', { type: 'button',
		    class: 'btn btn-primary btn-small', 'data-action': 'move' });
		const cancel = el('button', { type: 'button',
		    class: 'btn btn-danger btn-small', 'data-action': 'cancel' },
		    'Cancel');
		const tr = el('tr', {},
		    el('td', { 'data-label': 'Order', class: 'mono' }),
		    el('td', { 'data-label': 'Placed', class: 'nowrap' }),
		    el('td', { 'data-label': 'Customer' }),
		    el('td', { 'data-label': 'Items', class: 'items' }),
		    el('td', { 'data-label': 'Total', class: 'num' }),
		    el('td', { 'data-label': 'Status' },
			el('span', { class: 'badge' })),
		    el('td', { class: 'actions' }, move, cancel));
		move.addEventListener('click', () => moveOrder(tr.dataset.key,
		    move.dataset.to, [move, cancel]));
		cancel.addEventListener('click', () => moveOrder(tr.dataset.key,
		    CANCELLED, [move, cancel]));
		return tr;
	}

	function updateRow(tr, o) {
		const cells = tr.children;
		cells[0].textContent = shortId(o.id);
		cells[0].title = o.id;
		cells[1].textContent = dateTime(o.createdAt);
		cells[2].textContent = customerName(o.customerId);
		const items = o.items || [];
		cells[3].textContent = items.map(i => i.qty + ' × ' + i.name)
		    .join(', ');
		cells[4].textContent = cents(o.totalCents);
		const badge = cells[5].firstElementChild;
		if (tr.dataset.status && tr.dataset.status !== o.status)
			flash(tr);
		tr.dataset.status = o.status;
		badge.className = 'badge status-' + o.status;
		badge.textContent = statusLabel(o.status);
		const move = cells[6].querySelector('[data-action=move]');
		const cancel = cells[6].querySelector('[data-action=cancel]');
		const next = nextStatus(o.status);
		move.hidden = !next;
		move.disabled = !next;
		if (next) {
			const label = MOVE_LABEL[next] || statusLabel(next);
			move.dataset.to = next;
			move.textContent = label;
			move.setAttribute('aria-label', label + ' order ' +
			    shortId(o.id));
		}
		cancel.hidden = !canCancel(o.status);
		cancel.disabled = cancel.hidden;
		cancel.setAttribute('aria-label', 'Cancel order ' + shortId(o.id));
	}

	function renderOrders() {
		const all = store.sortedOrders();
		const matching = all.filter(o => !filter.value ||
		    o.status === filter.value);
		const list = matching.slice(0, shown);
		setText('orders-count', list.length < matching.length ?
		    list.length + ' of ' + matching.length + ' shown' :
		    matching.length + ' orders');
		more.hidden = list.length >= matching.length;
		if (!list.length) {
			body.replaceChildren(el('tr', { class: 'empty' },
			    el('td', { colspan: 7 }, store.state.loaded ?
			    'No orders.' : 'Loading…')));
			return;
		}
		reconcile(body, list, o => o.id, createRow, updateRow);
	}

	async function changeStock(id, change, controls) {
		inventoryError.textContent = '';
		for (const c of controls)
			c.disabled = true;
		try {
			await put('products/' + encodeURIComponent(id) + '/stock',
			    change);
			return true;
		} catch (e) {
			const p = store.state.products.get(id);
			inventoryError.textContent = (p ? p.name : shortId(id)) +
			    ': ' + e.message;
			return false;
		} finally {
			for (const c of controls)
				c.disabled = false;
		}
	}

	function createItem() {
		const minus = el('button', { type: 'button',
		    class: 'btn btn-small' }, '−10');
		const plus = el('button', { type: 'button',
		    class: 'btn btn-small' }, '+10');
		const input = el('input', { type: 'number', min: 0,
		    class: 'qty', inputmode: 'numeric', placeholder: 'Stock' });
		const set = el('button', { type: 'submit',
		    class: 'btn btn-small' }, 'Set');
		const form = el('form', { class: 'stock-form' }, input, set);
		const li = el('li', { class: 'inv-item' },
		    el('div', { class: 'inv-info' },
			el('span', { class: 'inv-name' }),
			el('span', { class: 'inv-sku muted' })),
		    el('span', { class: 'inv-stock num' }),
		    el('div', { class: 'inv-actions' }, minus, plus, form));
		const controls = [minus, plus, input, set];
		minus.addEventListener('click', () =>
		    changeStock(li.dataset.key, { delta: -10 }, controls));
		plus.addEventListener('click', () =>
		    changeStock(li.dataset.key, { delta: 10 }, controls));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			const n = Number(input.value);
			if (input.value === '' || !Number.isInteger(n) || n < 0) {
				inventoryError.textContent =
				    'Stock must be a whole number, 0 or more.';
				return;
			}
			if (await changeStock(li.dataset.key, { stock: n },
			    controls))
				input.value = '';
		});
		return li;
	}

	function updateItem(li, p) {
		const stock = Number(p.stock) || 0;
		li.querySelector('.inv-name').textContent = p.name;
		li.querySelector('.inv-sku').textContent = p.sku || '';
		const s = li.querySelector('.inv-stock');
		if (s.textContent !== String(stock) && s.textContent)
			flash(s);
		s.textContent = String(stock);
		s.className = 'inv-stock num ' + (stock <= 0 ? 'stock-out' :
		    isLowStock(stock) ? 'stock-low' : '');
		const [minus, plus] = li.querySelectorAll('button');
		minus.setAttribute('aria-label', 'Remove 10 of ' + p.name);
		plus.setAttribute('aria-label', 'Add 10 of ' + p.name);
		li.querySelector('input').setAttribute('aria-label',
		    'New stock of ' + p.name);
		li.querySelector('[type=submit]').setAttribute('aria-label',
		    'Set stock of ' + p.name);
	}

	function renderInventory() {
		const list = [...store.state.products.values()].sort((a, b) =>
		    String(a.name).localeCompare(String(b.name)));
		const low = list.filter(p =>
		    isLowStock(Number(p.stock) || 0)).length;
		setText('inventory-count', list.length + ' products' +
		    (low ? ', ' + low + ' low' : ''));
		if (!list.length) {
			emptyLine(inventory, 'li', 'No products.');
			return;
		}
		reconcile(inventory, list, p => p.id, createItem, updateItem);
	}

	function renderAlerts() {
		const list = store.state.alerts;
		setText('alerts-count', list.length ? String(list.length) : '');
		if (!list.length) {
			emptyLine(alerts, 'li', 'No alerts since this page opened.');
			return;
		}
		alerts.replaceChildren(...list.map(a => el('li',
		    { class: 'alert-item' },
		    el('span', { class: 'alert-name' },
			a.product ? a.product.name : shortId(a.key)),
		    el('span', { class: 'alert-stock' },
			(Number(a.stock) || 0) + ' left'),
		    el('time', { class: 'muted' }, time(a.at)))));
	}

	filter.addEventListener('change', () => {
		shown = PAGE;
		renderOrders();
	});
	more.addEventListener('click', () => {
		shown += PAGE;
		renderOrders();
	});
	store.on('orders', renderOrders);
	store.on('users', renderOrders);
	store.on('products', renderInventory);
	store.on('alerts', renderAlerts);
	renderOrders();
	renderInventory();
	renderAlerts();
	return { visible: () => {} };
}
