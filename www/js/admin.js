// Admin dashboard: the orders the current query selects, read from the
// server a page at a time (search, status, dates, sort, page size, total
// count), kept current by events without redrawing the table; an order's
// detail; status moves, cancellation after a confirmation; CSV export of
// every page; the products running low now; inventory.

import { el, reconcile, emptyLine, setText, flash, perFrame } from './dom.js';
import { get, put } from './api.js';
import { cents, dateTime, shortId, statusLabel } from './format.js';
import * as store from './store.js';
import { config, nextStatus, canCancel, isLowStock, CANCELLED }
    from './config.js';
import { fromHash, toHash, compile, listParams, PAGE_SIZES }
    from './query.js';
import { toast } from './toast.js';

// Button words for the forward moves; others show the status name.
const MOVE_LABEL = { processing: 'Process', shipped: 'Ship',
	delivered: 'Deliver' };
// The page size of an export: the API's largest.
const EXPORT_PAGE = 200;
const CSV_COLUMNS = ['id', 'createdAt', 'customerId', 'customer', 'email',
	'status', 'items', 'totalCents', 'total'];

// One CSV field, quoted when it holds a comma, quote or line break.
function csvField(v) {
	const s = v === undefined || v === null ? '' : String(v);
	return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function csvLine(values) {
	return values.map(csvField).join(',') + '\r\n';
}

export function initAdmin() {
	const body = document.getElementById('orders-body');
	const form = document.getElementById('order-query');
	const text = document.getElementById('q-text');
	const filter = document.getElementById('admin-status-filter');
	const from = document.getElementById('q-from');
	const to = document.getElementById('q-to');
	const limitSelect = document.getElementById('q-limit');
	const prev = document.getElementById('orders-prev');
	const next = document.getElementById('orders-next');
	const adminError = document.getElementById('admin-error');
	const adminStatus = document.getElementById('admin-status');
	const inventory = document.getElementById('inventory');
	const inventoryError = document.getElementById('inventory-error');
	const alerts = document.getElementById('alerts');
	const detail = document.getElementById('order-detail');
	const confirmBox = document.getElementById('confirm-cancel');
	const exportButton = document.getElementById('orders-export');
	const exportStatus = document.getElementById('export-status');

	let query = fromHash(location.hash);
	let compiled = null;
	// The rows of this page in their order, the cursors that led to each
	// page so far, the next page's, and the count of all matches.
	let rows = [];
	let cursors = [null];
	let page = 0;
	let nextCursor = null;
	let total = null;
	let loadState = 'loading';
	// Rows pushed off this page by new orders: the next page's cursor
	// no longer follows the last row shown.
	let cursorStale = false;
	let fetchSeq = 0;
	let visible = false;
	let stale = true;
	const changed = new Map();

	for (const s of config.statuses)
		filter.append(el('option', { value: s }, statusLabel(s)));
	for (const n of PAGE_SIZES)
		limitSelect.append(el('option', { value: n }, String(n)));

	function customer(id) {
		return store.state.users.get(id) || null;
	}

	function customerName(id) {
		const u = customer(id);
		return u ? u.name : shortId(id);
	}

	function say(message) {
		adminStatus.textContent = message;
	}

	async function moveOrder(id, status, tr) {
		adminError.textContent = '';
		const buttons = tr.querySelectorAll('.actions button');
		// A disabled button loses the focus: the row gets it back when
		// it has been redrawn.
		if (tr.contains(document.activeElement))
			tr.dataset.refocus = 'true';
		for (const b of buttons)
			b.disabled = true;
		try {
			const o = await put('orders/' + encodeURIComponent(id) +
			    '/status', { status });
			say('Order ' + shortId(id) + ' is now ' +
			    statusLabel(o && o.status ? o.status : status) + '.');
			if (o && o.id)
				noteChange(o);
		} catch (e) {
			adminError.textContent = 'Order ' + shortId(id) + ': ' +
			    e.message;
			for (const b of buttons)
				b.disabled = b.hidden;
			refocus(tr);
		}
	}

	// Give the row the focus back if a move took it away, unless the
	// user has gone elsewhere meanwhile.
	function refocus(tr) {
		if (tr.dataset.refocus !== 'true')
			return;
		delete tr.dataset.refocus;
		const a = document.activeElement;
		if (!a || a === document.body || tr.contains(a))
			focusRow(tr);
	}

	// Cancel only once the admin confirmed, naming the order.
	function askCancel(tr) {
		const o = rows.find(r => r.id === tr.dataset.key);
		if (!o)
			return;
		const opener = document.activeElement;
		setText('confirm-cancel-text', 'Cancel order ' + shortId(o.id) +
		    ' of ' + customerName(o.customerId) + ' (' +
		    cents(o.totalCents) + ')? Its items go back into stock.');
		const yes = document.getElementById('confirm-cancel-yes');
		yes.textContent = 'Cancel order ' + shortId(o.id);
		confirmBox.returnValue = '';
		confirmBox.onclose = () => {
			if (confirmBox.returnValue === 'yes')
				moveOrder(o.id, CANCELLED, tr);
			if (opener && opener.isConnected && !opener.disabled &&
			    !opener.hidden)
				opener.focus();
			else
				focusRow(tr);
		};
		confirmBox.showModal();
		document.getElementById('confirm-cancel-no').focus();
	}

	// Focus stays in the row whose button went away.
	function focusRow(tr) {
		const target = [...tr.querySelectorAll('button')]
		    .find(b => !b.hidden && !b.disabled);
		(target || tr.querySelector('.order-link')).focus();
	}

	function createRow() {
		const link = el('button', { type: 'button',
		    class: 'btn-link order-link mono', 'data-action': 'detail' });
		const move = el('button', { type: 'button',
		    class: 'btn btn-primary btn-small', 'data-action': 'move' });
		const cancel = el('button', { type: 'button',
		    class: 'btn btn-danger btn-small', 'data-action': 'cancel' },
		    'Cancel');
		const tr = el('tr', {},
		    el('td', { 'data-label': 'Order' }, link),
		    el('td', { 'data-label': 'Placed', class: 'nowrap' }),
		    el('td', { 'data-label': 'Customer', class: 'customer' }),
		    el('td', { 'data-label': 'Items', class: 'items' }),
		    el('td', { 'data-label': 'Total', class: 'num' }),
		    el('td', { 'data-label': 'Status' },
			el('span', { class: 'badge' })),
		    el('td', { class: 'actions' }, move, cancel));
		link.addEventListener('click', () => showDetail(tr.dataset.key));
		move.addEventListener('click', () => moveOrder(tr.dataset.key,
		    move.dataset.to, tr));
		cancel.addEventListener('click', () => askCancel(tr));
		return tr;
	}

	function updateRow(tr, o) {
		const hadFocus = tr.contains(document.activeElement);
		const cells = tr.children;
		const link = cells[0].firstElementChild;
		link.textContent = shortId(o.id);
		link.title = o.id;
		link.setAttribute('aria-label', 'Order ' + shortId(o.id) +
		    ': details');
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
		const to = nextStatus(o.status);
		move.hidden = !to;
		move.disabled = !to;
		if (to) {
			const label = MOVE_LABEL[to] || statusLabel(to);
			move.dataset.to = to;
			move.textContent = label;
			move.setAttribute('aria-label', label + ' order ' +
			    shortId(o.id));
		}
		cancel.hidden = !canCancel(o.status);
		cancel.disabled = cancel.hidden;
		cancel.setAttribute('aria-label', 'Cancel order ' + shortId(o.id));
		const gone = compiled && !compiled.matches(o);
		tr.classList.toggle('row-gone', Boolean(gone));
		tr.title = gone ? 'No longer matches the search' : '';
		if (hadFocus && !tr.contains(document.activeElement))
			focusRow(tr);
		refocus(tr);
	}

	function renderCount() {
		const first = rows.length ? page * query.limit + 1 : 0;
		const last = page * query.limit + rows.length;
		const of = total === null ? '' : ' of ' + total.toLocaleString();
		setText('orders-count', loadState === 'loading' ? 'Loading…' :
		    total === 0 ? 'No orders' : first.toLocaleString() + '–' +
		    last.toLocaleString() + of);
		prev.disabled = page === 0;
		next.disabled = !nextCursor;
		document.getElementById('orders-paging').hidden =
		    page === 0 && !nextCursor;
		setText('orders-page', 'Page ' + (page + 1) + (total ? ' of ' +
		    Math.max(1, Math.ceil(total / query.limit)) : ''));
	}

	function renderOrders() {
		renderCount();
		if (!rows.length) {
			body.replaceChildren(el('tr', { class: 'empty' },
			    el('td', { colspan: 7 }, loadState === 'loading' ?
			    'Loading…' : loadState === 'error' ?
			    'The orders could not be loaded.' :
			    'No orders match.')));
			return;
		}
		reconcile(body, rows, o => o.id, createRow, updateRow);
	}

	function showQuery() {
		text.value = query.q;
		filter.value = query.status;
		from.value = query.from;
		to.value = query.to;
		limitSelect.value = String(query.limit);
		const heads = document.querySelectorAll('#orders-head th[data-sort]');
		for (const th of heads) {
			const key = th.dataset.sort;
			const s = query.sort === key ? 'ascending' :
			    query.sort === '-' + key ? 'descending' : null;
			if (s)
				th.setAttribute('aria-sort', s);
			else
				th.removeAttribute('aria-sort');
		}
	}

	// Read one page of the query (and, on its first page, the count).
	async function fetchPage(index) {
		const seq = ++fetchSeq;
		compiled = compile(query, store.state.users);
		const params = listParams(compiled, query.limit);
		if (cursors[index])
			params.set('next', cursors[index]);
		loadState = 'loading';
		renderCount();
		adminError.textContent = '';
		try {
			const counting = index === 0 || total === null;
			const [list, count] = await Promise.all([
				get('orders?' + params),
				counting ? get('orders/count?' +
				    new URLSearchParams(compiled.where ?
				    { where: compiled.where } : {})) : null
			]);
			if (seq !== fetchSeq)
				return;
			rows = (list && list.data) || [];
			page = index;
			nextCursor = list ? list.next || null : null;
			cursors[index + 1] = nextCursor;
			cursors.length = index + 2;
			if (counting)
				total = count && typeof count.count === 'number' ?
				    count.count : null;
			loadState = 'ok';
			cursorStale = false;
			changed.clear();
		} catch (e) {
			if (seq !== fetchSeq)
				return;
			loadState = 'error';
			rows = [];
			adminError.textContent = 'Could not load the orders: ' +
			    e.message;
		}
		stale = false;
		renderOrders();
	}

	// A new query: back to its first page, in the address too.
	function setQuery(q) {
		query = q;
		cursors = [null];
		total = null;
		const hash = toHash('admin', query);
		if (location.hash !== hash)
			history.replaceState(null, '', hash);
		document.getElementById('tab-admin').href = hash;
		showQuery();
		fetchPage(0);
	}

	function queryFromForm() {
		return Object.assign({}, query, { q: text.value.trim(),
		    status: filter.value, from: from.value, to: to.value,
		    limit: Number(limitSelect.value) || query.limit });
	}

	// An order changed: its row, if shown, and the count; a new order
	// that matches takes its place on the page. Applied once a frame.
	function noteChange(doc, previous, created) {
		const known = changed.get(doc.id);
		changed.set(doc.id, { doc, previous: known ? known.previous :
		    previous, created: (known && known.created) || created });
		applyChanges();
	}

	const applyChanges = perFrame(() => {
		if (!compiled || loadState !== 'ok')
			return;
		let counted = false;
		for (const { doc, previous, created } of changed.values()) {
			const i = rows.findIndex(r => r.id === doc.id);
			const before = i >= 0 ? rows[i] : previous;
			const was = !created && before ? compiled.matches(before) :
			    false;
			const now = compiled.matches(doc);
			if (total !== null && was !== now && (created || before)) {
				total += now ? 1 : -1;
				counted = true;
			}
			if (i >= 0) {
				rows[i] = doc;
				const tr = body.querySelector('tr[data-key="' +
				    CSS.escape(doc.id) + '"]');
				if (tr)
					updateRow(tr, doc);
			} else if (now && created) {
				insertRow(doc);
				counted = true;
			}
		}
		changed.clear();
		if (counted)
			renderCount();
	});

	// Put a new order at its place among the rows, if it falls on this
	// page; the last row makes room for it (the page keeps its size).
	function insertRow(doc) {
		const at = rows.findIndex(r => compiled.compare(doc, r) < 0);
		if (at < 0 && nextCursor)
			return;
		if (at === 0 && page > 0)
			return;
		const index = at < 0 ? rows.length : at;
		rows.splice(index, 0, doc);
		if (rows.length === 1) {
			renderOrders();
			return;
		}
		const tr = createRow();
		tr.dataset.key = doc.id;
		updateRow(tr, doc);
		body.insertBefore(tr, body.children[index] || null);
		flash(tr);
		while (rows.length > query.limit) {
			const gone = rows.pop();
			const node = body.querySelector('tr[data-key="' +
			    CSS.escape(gone.id) + '"]');
			if (node)
				node.remove();
			cursorStale = true;
		}
	}

	// The detail of one order: items, totals, customer, history.
	async function showDetail(id) {
		const opener = document.activeElement;
		setText('detail-title', 'Order ' + shortId(id));
		const content = document.getElementById('detail-body');
		content.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
		detail.onclose = () => {
			if (opener && opener.isConnected)
				opener.focus();
		};
		detail.showModal();
		let o;
		try {
			o = await get('orders/' + encodeURIComponent(id));
		} catch (e) {
			content.replaceChildren(el('p', { class: 'form-error' },
			    'Could not load the order: ' + e.message));
			return;
		}
		const c = customer(o.customerId);
		const who = by => {
			if (!by)
				return 'not recorded';
			const u = store.state.users.get(by);
			return u ? u.name + (u.role === 'admin' ? ' (admin)' : '') :
			    shortId(by);
		};
		content.replaceChildren(
		    el('dl', { class: 'facts' },
			el('dt', {}, 'Order'), el('dd', { class: 'mono' }, o.id),
			el('dt', {}, 'Customer'), el('dd', {}, c ? c.name + ' · ' +
			    c.email : shortId(o.customerId)),
			el('dt', {}, 'Placed'), el('dd', {}, dateTime(o.createdAt)),
			el('dt', {}, 'Status'), el('dd', {},
			    el('span', { class: 'badge status-' + o.status },
			    statusLabel(o.status)))),
		    el('table', { class: 'table detail-items' },
			el('caption', { class: 'visually-hidden' }, 'Items'),
			el('thead', {}, el('tr', {},
			    el('th', { scope: 'col' }, 'Product'),
			    el('th', { scope: 'col', class: 'num' }, 'Qty'),
			    el('th', { scope: 'col', class: 'num' }, 'Price'),
			    el('th', { scope: 'col', class: 'num' }, 'Amount'))),
			el('tbody', {}, (o.items || []).map(i => el('tr', {},
			    el('td', {}, i.name + (i.sku ? ' (' + i.sku + ')' : '')),
			    el('td', { class: 'num' }, String(i.qty)),
			    el('td', { class: 'num' }, cents(i.unitPriceCents)),
			    el('td', { class: 'num' }, cents((Number(i.qty) || 0) *
				(Number(i.unitPriceCents) || 0)))))),
			el('tfoot', {}, el('tr', {},
			    el('th', { scope: 'row', colspan: 3 }, 'Total'),
			    el('td', { class: 'num' }, cents(o.totalCents))))),
		    el('h3', {}, 'History'),
		    el('ol', { class: 'history', id: 'detail-history' },
			(o.history || []).map(h => el('li', {},
			    el('span', { class: 'badge status-' + h.status },
				statusLabel(h.status)),
			    el('time', { datetime: h.at }, dateTime(h.at)),
			    el('span', { class: 'history-by' }, 'by ' +
				who(h.by))))));
	}

	// Every page of the current query as CSV, written into the file as
	// the pages arrive; says how many rows it wrote.
	async function exportCsv() {
		const c = compile(query, store.state.users);
		let cursor = null;
		let rowsWritten = 0;
		let done = false;
		exportButton.disabled = true;
		exportStatus.textContent = 'Exporting…';
		const stream = new ReadableStream({
			start(ctl) {
				ctl.enqueue(csvLine(CSV_COLUMNS));
			},
			async pull(ctl) {
				if (done) {
					ctl.close();
					return;
				}
				const params = listParams(c, EXPORT_PAGE);
				if (cursor)
					params.set('next', cursor);
				const list = await get('orders?' + params);
				let chunk = '';
				for (const o of (list && list.data) || []) {
					const u = customer(o.customerId);
					chunk += csvLine([o.id, o.createdAt, o.customerId,
					    u ? u.name : '', u ? u.email : '', o.status,
					    (o.items || []).map(i => i.qty + ' x ' + i.name)
					    .join('; '), o.totalCents,
					    ((Number(o.totalCents) || 0) / 100).toFixed(2)]);
					rowsWritten++;
				}
				if (chunk)
					ctl.enqueue(chunk);
				cursor = list ? list.next : null;
				done = !cursor;
				exportStatus.textContent = 'Exporting… ' +
				    rowsWritten.toLocaleString() + ' rows';
			}
		}).pipeThrough(new TextEncoderStream());
		try {
			const blob = await new Response(stream, { headers:
			    { 'Content-Type': 'text/csv' } }).blob();
			const url = URL.createObjectURL(blob);
			const a = el('a', { href: url, download: 'orders.csv',
			    hidden: true });
			document.body.append(a);
			a.click();
			a.remove();
			setTimeout(() => URL.revokeObjectURL(url), 60000);
			exportStatus.textContent = 'Exported ' +
			    rowsWritten.toLocaleString() + ' orders to orders.csv.';
			exportStatus.dataset.rows = String(rowsWritten);
		} catch (e) {
			exportStatus.textContent = 'Export failed after ' +
			    rowsWritten + ' rows: ' + e.message;
		} finally {
			exportButton.disabled = false;
		}
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
		const stockForm = el('form', { class: 'stock-form' }, input, set);
		const li = el('li', { class: 'inv-item' },
		    el('div', { class: 'inv-info' },
			el('span', { class: 'inv-name' }),
			el('span', { class: 'inv-sku muted' })),
		    el('span', { class: 'inv-stock num' }),
		    el('div', { class: 'inv-actions' }, minus, plus, stockForm));
		const controls = [minus, plus, input, set];
		minus.addEventListener('click', () =>
		    changeStock(li.dataset.key, { delta: -10 }, controls));
		plus.addEventListener('click', () =>
		    changeStock(li.dataset.key, { delta: 10 }, controls));
		stockForm.addEventListener('submit', async (ev) => {
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
		if (li.dataset.name !== p.name) {
			li.dataset.name = p.name;
			li.querySelector('.inv-name').textContent = p.name;
			li.querySelector('.inv-sku').textContent = p.sku || '';
			const [minus, plus] = li.querySelectorAll('button');
			minus.setAttribute('aria-label', 'Remove 10 of ' + p.name);
			plus.setAttribute('aria-label', 'Add 10 of ' + p.name);
			li.querySelector('input').setAttribute('aria-label',
			    'New stock of ' + p.name);
			li.querySelector('[type=submit]').setAttribute('aria-label',
			    'Set stock of ' + p.name);
		}
		const s = li.querySelector('.inv-stock');
		if (s.textContent !== String(stock)) {
			if (s.textContent)
				flash(s);
			s.textContent = String(stock);
			s.className = 'inv-stock num ' + (stock <= 0 ? 'stock-out' :
			    isLowStock(stock) ? 'stock-low' : '');
		}
	}

	function renderInventory() {
		const list = [...store.state.products.values()].sort((a, b) =>
		    String(a.name).localeCompare(String(b.name)));
		const low = list.filter(p =>
		    isLowStock(Number(p.stock) || 0)).length;
		setText('inventory-count', list.length + ' products' +
		    (low ? ', ' + low + ' low' : ''));
		if (!list.length) {
			emptyLine(inventory, 'li', store.state.loaded ?
			    'No products.' : 'Loading…');
			return;
		}
		reconcile(inventory, list, p => p.id, createItem, updateItem);
	}

	function createAlert() {
		return el('li', { class: 'alert-item' },
		    el('span', { class: 'alert-name' }),
		    el('span', { class: 'alert-stock' }));
	}

	function updateAlert(li, p) {
		const stock = Number(p.stock) || 0;
		li.firstElementChild.textContent = p.name;
		li.lastElementChild.textContent = stock <= 0 ? 'Sold out' :
		    stock + ' left';
		li.classList.toggle('is-out', stock <= 0);
	}

	// The products under the threshold now, sold out first.
	function renderAlerts() {
		const list = [...store.state.products.values()]
		    .filter(p => isLowStock(Number(p.stock) || 0))
		    .sort((a, b) => (Number(a.stock) || 0) -
		    (Number(b.stock) || 0) || String(a.name)
		    .localeCompare(String(b.name)));
		const out = list.filter(p => (Number(p.stock) || 0) <= 0).length;
		setText('alerts-count', list.length ? list.length + ' low' +
		    (out ? ', ' + out + ' sold out' : '') : '');
		if (!list.length) {
			emptyLine(alerts, 'li', store.state.loaded ?
			    'Every product has ' + config.lowStock +
			    ' or more in stock.' : 'Loading…');
			return;
		}
		reconcile(alerts, list, p => p.id, createAlert, updateAlert);
	}

	const renderProducts = perFrame(() => {
		renderInventory();
		renderAlerts();
	});

	// A product that ran out raises an alert too (the server's low-stock
	// alert tells of the crossing of the threshold only).
	function onProduct(event) {
		renderProducts();
		const doc = event && event.doc;
		if (!doc || !store.state.loaded || event.type === 'alert.low_stock')
			return;
		const stock = Number(doc.stock);
		const changedStock = event.changed && 'stock' in event.changed;
		if (stock === 0 && changedStock)
			toast('Sold out', doc.name + ' has no stock left.', 'is-error');
	}

	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		setQuery(queryFromForm());
	});
	for (const input of [filter, from, to, limitSelect])
		input.addEventListener('change', () => setQuery(queryFromForm()));
	document.getElementById('q-clear').addEventListener('click', () => {
		setQuery(fromHash(''));
		text.focus();
	});
	for (const b of document.querySelectorAll('#orders-head button[data-sort]'))
		b.addEventListener('click', () => {
			const key = b.dataset.sort;
			const sort = query.sort === '-' + key ? key : '-' + key;
			setQuery(Object.assign({}, query, { sort }));
			b.focus();
		});
	prev.addEventListener('click', () => fetchPage(Math.max(0, page - 1)));
	next.addEventListener('click', async () => {
		if (cursorStale)
			await fetchPage(page);
		if (nextCursor)
			fetchPage(page + 1);
	});
	exportButton.addEventListener('click', exportCsv);
	for (const d of [detail, confirmBox])
		d.addEventListener('click', (ev) => {
			if (ev.target === d)
				d.close();
		});
	window.addEventListener('hashchange', () => {
		if (!location.hash.startsWith('#admin'))
			return;
		const q = fromHash(location.hash);
		if (toHash('admin', q) !== toHash('admin', query))
			setQuery(q);
	});
	store.on('orders', (event) => {
		if (!event || !event.doc)
			return;
		noteChange(event.doc, event.previous, event.type ===
		    'order.created' && !event.previous);
	});
	store.on('users', perFrame(() => {
		for (const tr of body.querySelectorAll('tr[data-key]')) {
			const o = rows.find(r => r.id === tr.dataset.key);
			if (o)
				tr.children[2].textContent = customerName(o.customerId);
		}
	}));
	store.on('products', onProduct);
	store.on('alerts', renderProducts);
	// A new session or a resync: read the page again.
	store.on('loaded', () => {
		stale = true;
		if (visible)
			fetchPage(0);
	});
	showQuery();
	renderOrders();
	renderInventory();
	renderAlerts();
	return {
		visible(v) {
			visible = v;
			if (v && stale && store.state.loaded)
				setQuery(fromHash(location.hash));
		}
	};
}
