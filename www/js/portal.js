// Customer portal: browse products with live stock, fill a cart, place
// the order, follow the orders as they move. A customer orders for
// themselves; an admin picks the customer to order for.

import { el, reconcile, emptyLine, setText, flash, perFrame }
    from './dom.js';
import { get, post, randomKey } from './api.js';
import { cents, dateTime, shortId, statusLabel } from './format.js';
import * as store from './store.js';
import { isLowStock } from './config.js';
import { toast } from './toast.js';

const SAVED_CUSTOMER = 'ordercast.customer';
// Orders of the customer read at a time, and shown at first.
const ORDERS_PAGE = 50;

export function initPortal() {
	const select = document.getElementById('customer-select');
	const picker = document.getElementById('customer-picker');
	const productList = document.getElementById('product-list');
	const cartList = document.getElementById('cart');
	const placeButton = document.getElementById('place-order');
	const orderError = document.getElementById('order-error');
	const orderOk = document.getElementById('order-ok');
	const myOrders = document.getElementById('my-orders');
	const cartBar = document.getElementById('cart-bar');
	const olderButton = document.getElementById('my-orders-older');
	const cart = new Map();
	let customerId = null;
	let visible = false;
	let placing = false;
	let idempotencyKey = null;
	let fetchedSinceLoad = false;
	// The signed-in user, or null; a customer is their own customer.
	let user = null;
	// The product a refused order named: its error stays while the cart
	// still asks for more than there is of it.
	let errorProduct = null;
	// How many of the customer's orders are shown, how many they have,
	// and where the next older page starts.
	let ordersShown = ORDERS_PAGE;
	let ordersTotal = null;
	let ordersBefore = null;

	function products() {
		return [...store.state.products.values()].sort((a, b) =>
		    String(a.name).localeCompare(String(b.name)));
	}

	function renderCustomers() {
		if (!user || user.role !== 'admin')
			return;
		const list = store.customers();
		const saved = customerId || localStorage.getItem(SAVED_CUSTOMER);
		select.replaceChildren(...list.map(u =>
		    el('option', { value: u.id }, u.name + ' (' + u.email + ')')));
		const keep = list.find(u => u.id === saved) || list[0];
		select.value = keep ? keep.id : '';
		if ((keep ? keep.id : null) !== customerId)
			chooseCustomer(keep ? keep.id : null);
	}

	async function chooseCustomer(id) {
		if (id !== customerId) {
			ordersShown = ORDERS_PAGE;
			ordersTotal = null;
			ordersBefore = null;
		}
		customerId = id;
		fetchedSinceLoad = true;
		if (id && user && user.role === 'admin')
			localStorage.setItem(SAVED_CUSTOMER, id);
		renderOrders();
		if (!id)
			return;
		await fetchOrders(id, null);
	}

	// A page of this customer's own orders (beyond the newest ones of
	// everyone the page holds) and how many they have in all.
	async function fetchOrders(id, before) {
		const q = 'customerId=' + encodeURIComponent(id);
		try {
			const [page, count] = await Promise.all([
				get('orders?limit=' + ORDERS_PAGE + '&' + q +
				    (before ? '&before=' + encodeURIComponent(before) :
				    '')),
				get('orders/count?' + q)
			]);
			if (id !== customerId)
				return;
			for (const o of page.data || [])
				if (!store.state.orders.has(o.id))
					store.state.orders.set(o.id, o);
			ordersBefore = page.next || null;
			ordersTotal = count && typeof count.count === 'number' ?
			    count.count : null;
			renderOrders();
		} catch (e) {
			if (id === customerId)
				orderError.textContent = 'Could not load the orders: ' +
				    e.message;
		}
	}

	function stockText(p) {
		const stock = Number(p.stock) || 0;
		if (stock <= 0)
			return ['out', 'Out of stock'];
		if (isLowStock(stock))
			return ['low', 'Low stock: ' + stock + ' left'];
		return ['ok', stock + ' in stock'];
	}

	function createProduct(p) {
		const qty = el('input', { type: 'number', min: 1, value: 1,
		    class: 'qty', inputmode: 'numeric' });
		const add = el('button', { type: 'button',
		    class: 'btn btn-primary btn-small' }, 'Add to cart');
		const li = el('li', { class: 'product' },
		    el('div', { class: 'product-info' },
			el('span', { class: 'product-name' }),
			el('span', { class: 'product-meta' })),
		    el('div', { class: 'product-side' },
			el('span', { class: 'product-price' }),
			el('span', { class: 'stock' })),
		    el('div', { class: 'product-buy' }, qty, add));
		add.addEventListener('click', () => {
			const id = li.dataset.key;
			const n = Math.max(1, Math.floor(Number(qty.value) || 1));
			cart.set(id, (cart.get(id) || 0) + n);
			qty.value = 1;
			orderOk.textContent = '';
			renderCart();
		});
		return li;
	}

	function updateProduct(li, p) {
		const [level, text] = stockText(p);
		li.querySelector('.product-name').textContent = p.name;
		li.querySelector('.product-meta').textContent =
		    [p.category, p.sku].filter(Boolean).join(' · ');
		li.querySelector('.product-price').textContent = cents(p.priceCents);
		const stock = li.querySelector('.stock');
		if (stock.textContent !== text && stock.textContent)
			flash(stock);
		stock.textContent = text;
		stock.className = 'stock stock-' + level;
		li.dataset.stock = String(p.stock);
		li.classList.toggle('is-out', level === 'out');
		const qty = li.querySelector('.qty');
		const add = li.querySelector('button');
		qty.max = String(Math.max(1, Number(p.stock) || 0));
		qty.disabled = level === 'out';
		add.disabled = level === 'out';
		qty.setAttribute('aria-label', 'Quantity of ' + p.name);
		// The name starts with the words shown (WCAG label in name).
		add.setAttribute('aria-label', 'Add to cart: ' + p.name);
	}

	function renderProducts() {
		const list = products();
		setText('products-count', list.length + ' products');
		if (!list.length) {
			emptyLine(productList, 'li', store.state.loaded ?
			    'No products yet.' : 'Loading…');
			return;
		}
		reconcile(productList, list, p => p.id, createProduct,
		    updateProduct);
	}

	function renderCart() {
		let total = 0;
		let count = 0;
		const items = [];
		for (const [id, qty] of cart) {
			const p = store.state.products.get(id);
			if (!p) {
				cart.delete(id);
				continue;
			}
			total += qty * (Number(p.priceCents) || 0);
			count += qty;
			items.push({ p, qty });
		}
		setText('cart-total', cents(total));
		setText('cart-count', count ? count + ' items' : '');
		setText('cart-bar-text', count + (count === 1 ? ' item · ' :
		    ' items · ') + cents(total));
		cartBar.hidden = !count;
		placeButton.disabled = !count || !customerId || placing;
		clearSolvedError();
		if (!items.length) {
			emptyLine(cartList, 'li', 'Your cart is empty.');
			return;
		}
		reconcile(cartList, items, i => i.p.id, createCartItem,
		    updateCartItem);
	}

	function createCartItem() {
		const li = el('li', { class: 'cart-item' },
		    el('span', { class: 'cart-name' }),
		    el('span', { class: 'cart-qty' }),
		    el('span', { class: 'cart-sum num' }),
		    el('button', { type: 'button', class: 'btn btn-link',
			onclick: () => {
				cart.delete(li.dataset.key);
				renderCart();
			} }, 'Remove'),
		    el('span', { class: 'cart-warn', role: 'status' },
			el('span', { class: 'cart-warn-text' }), ' ',
			el('button', { type: 'button', class: 'btn btn-small cart-fix',
			    hidden: true, onclick: () => {
				const id = li.dataset.key;
				const p = store.state.products.get(id);
				const stock = p ? Number(p.stock) || 0 : 0;
				if (stock > 0)
					cart.set(id, stock);
				else
					cart.delete(id);
				renderCart();
				placeButton.focus();
			    } })));
		return li;
	}

	function updateCartItem(li, { p, qty }) {
		li.querySelector('.cart-name').textContent = p.name;
		li.querySelector('.cart-qty').textContent = '× ' + qty;
		li.querySelector('.cart-sum').textContent =
		    cents(qty * (Number(p.priceCents) || 0));
		li.querySelector('.btn-link').setAttribute('aria-label',
		    'Remove ' + p.name + ' from cart');
		const stock = Number(p.stock) || 0;
		const short = qty > stock;
		li.classList.toggle('is-short', short);
		li.querySelector('.cart-warn-text').textContent = !short ? '' :
		    stock ? 'Only ' + stock + ' left of ' + p.name + '.' :
		    p.name + ' has sold out.';
		const fix = li.querySelector('.cart-fix');
		fix.hidden = !short;
		fix.textContent = stock ? 'Order ' + stock + ' instead' :
		    'Remove it';
		fix.setAttribute('aria-label', (stock ? 'Order ' + stock +
		    ' instead' : 'Remove it') + ': ' + p.name);
	}

	// A refused order's error goes once its cause has: the product now
	// covers what the cart asks, or left the cart.
	function clearSolvedError() {
		if (!errorProduct || !orderError.textContent)
			return;
		const p = store.state.products.get(errorProduct);
		const qty = cart.get(errorProduct) || 0;
		if (!qty || (p && qty <= (Number(p.stock) || 0))) {
			orderError.textContent = '';
			errorProduct = null;
		}
	}

	// The server's refusal in words: the product by name, not its id.
	function refusal(e) {
		const m = /\b([0-9a-f]{24})\b/i.exec(e.message || '');
		const p = m ? store.state.products.get(m[1].toLowerCase()) : null;
		if (e.code === 'insufficient_stock' && p) {
			errorProduct = p.id;
			const stock = Number(p.stock) || 0;
			return 'Order refused: not enough ' + p.name + ' in stock' +
			    (stock ? ' (' + stock + ' left).' : ' (sold out).');
		}
		const text = String(e.message || 'refused').replace(
		    /\b[0-9a-f]{24}\b/gi, id => {
			const q = store.state.products.get(id.toLowerCase());
			return q ? q.name : 'a product';
		    });
		return 'Order refused: ' + text;
	}

	async function placeOrder() {
		if (!customerId || !cart.size || placing)
			return;
		placing = true;
		orderError.textContent = '';
		orderOk.textContent = '';
		renderCart();
		// One key per cart, so a retried click cannot order twice.
		idempotencyKey = idempotencyKey || randomKey();
		// A customer's orders are their own: the server takes the
		// customer from the session.
		const body = {
			items: [...cart].map(([productId, qty]) =>
			    ({ productId, qty }))
		};
		if (user && user.role === 'admin')
			body.customerId = customerId;
		try {
			const order = await post('orders', body,
			    { 'Idempotency-Key': idempotencyKey });
			cart.clear();
			idempotencyKey = null;
			orderOk.textContent = 'Order ' + shortId(order && order.id) +
			    ' placed.';
		} catch (e) {
			if (e.status && e.status < 500)
				idempotencyKey = null;
			errorProduct = null;
			orderError.textContent = e.status === 409 ? refusal(e) :
			    e.message;
		} finally {
			placing = false;
			renderCart();
		}
	}

	function myOrderList() {
		return store.sortedOrders().filter(o => o.customerId === customerId)
		    .slice(0, ordersShown);
	}

	function createOrder() {
		return el('li', { class: 'order-row' },
		    el('div', { class: 'order-main' },
			el('span', { class: 'order-id' }),
			el('span', { class: 'order-when muted' })),
		    el('div', { class: 'order-items muted' }),
		    el('div', { class: 'order-side' },
			el('span', { class: 'order-total num' }),
			el('span', { class: 'badge' })));
	}

	function updateOrder(li, o) {
		li.querySelector('.order-id').textContent = 'Order ' + shortId(o.id);
		li.querySelector('.order-when').textContent = dateTime(o.createdAt);
		li.querySelector('.order-items').textContent = (o.items || [])
		    .map(i => i.qty + ' × ' + i.name).join(', ');
		li.querySelector('.order-total').textContent = cents(o.totalCents);
		const badge = li.querySelector('.badge');
		if (badge.dataset.status && badge.dataset.status !== o.status)
			flash(li);
		badge.dataset.status = o.status;
		badge.className = 'badge status-' + o.status;
		badge.textContent = statusLabel(o.status);
		li.dataset.status = o.status;
	}

	function renderOrders() {
		const list = myOrderList();
		const all = ordersTotal === null ? null :
		    Math.max(ordersTotal, list.length);
		setText('my-orders-count', !list.length ? '' :
		    all !== null && all > list.length ? 'Newest ' + list.length +
		    ' of ' + all : list.length + ' orders');
		olderButton.hidden = !(all !== null && all > list.length);
		if (!list.length) {
			emptyLine(myOrders, 'li', customerId ? 'No orders yet.' :
			    user ? 'Choose a customer.' : '');
			return;
		}
		reconcile(myOrders, list, o => o.id, createOrder, updateOrder);
	}

	function notify(event) {
		const o = event.doc;
		if (!visible || !o || o.customerId !== customerId)
			return;
		if (event.type === 'order.created') {
			toast('Order ' + shortId(o.id) + ' received',
			    cents(o.totalCents) + ' · ' + statusLabel(o.status));
		} else if (event.type === 'order.updated' && event.changed &&
		    event.changed.status) {
			toast('Order ' + shortId(o.id) + ' is now ' +
			    statusLabel(o.status), dateTime(o.updatedAt),
			    'status-' + o.status);
		}
	}

	select.addEventListener('change', () => {
		orderError.textContent = '';
		orderOk.textContent = '';
		chooseCustomer(select.value);
		renderCart();
	});
	placeButton.addEventListener('click', placeOrder);
	olderButton.addEventListener('click', async () => {
		const id = customerId;
		const oldest = myOrderList().pop();
		ordersShown += ORDERS_PAGE;
		if (id)
			await fetchOrders(id, ordersBefore || (oldest && oldest.id));
	});
	// On a phone the cart is below the products: a bar leads to it.
	cartBar.addEventListener('click', () => {
		document.getElementById('cart-title').scrollIntoView(
		    { behavior: 'smooth', block: 'center' });
		placeButton.focus({ preventScroll: true });
	});
	// Events redraw once a frame, however many arrive.
	const ordersSoon = perFrame(renderOrders);
	store.on('users', renderCustomers);
	store.on('products', perFrame(() => {
		renderProducts();
		renderCart();
	}));
	store.on('orders', (event) => {
		ordersSoon();
		if (event)
			notify(event);
	});
	store.on('loaded', () => {
		// A reload replaced the orders: fetch this customer's again.
		if (customerId && !fetchedSinceLoad)
			chooseCustomer(customerId);
		fetchedSinceLoad = false;
	});
	// Sign-in (a user) or sign-out (null): whose portal this is.
	function setUser(u) {
		user = u;
		cart.clear();
		idempotencyKey = null;
		orderError.textContent = '';
		orderOk.textContent = '';
		customerId = null;
		const admin = Boolean(u && u.role === 'admin');
		picker.hidden = !admin;
		select.disabled = !admin;
		if (!admin)
			select.replaceChildren();
		if (u && !admin)
			customerId = u.id;
		renderProducts();
		renderCart();
		renderOrders();
	}

	renderProducts();
	renderCart();
	renderOrders();
	return { visible: (v) => { visible = v; }, setUser };
}
