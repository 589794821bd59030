// The page's state: loaded over REST, then kept current by events only.
// Views subscribe to the parts they show and redraw when told.

import { get, getAll } from './api.js';
import { millis } from './format.js';
import { config, CANCELLED } from './config.js';

const ORDER_LIMIT = 200;
const ALERT_LIMIT = 50;

export const state = {
	loaded: false,
	users: new Map(),
	products: new Map(),
	orders: new Map(),
	stats: emptyStats(),
	alerts: [],
	eventTimes: []
};

const listeners = new Map();

function emptyStats() {
	const byStatus = {};
	for (const s of config.statuses)
		byStatus[s] = 0;
	return { byStatus, revenueCents: 0, ordersPerMinute: [],
		topProducts: [] };
}

// Subscribe to one part: 'users', 'products', 'orders', 'stats',
// 'alerts', 'event' (every event, after it was applied), 'loaded'.
export function on(topic, fn) {
	if (!listeners.has(topic))
		listeners.set(topic, []);
	listeners.get(topic).push(fn);
}

function emit(topic, arg) {
	for (const fn of listeners.get(topic) || []) {
		try {
			fn(arg);
		} catch (e) {
			console.warn('view update failed', e);
		}
	}
}

function byId(list) {
	const map = new Map();
	for (const doc of list || [])
		if (doc && doc.id)
			map.set(doc.id, doc);
	return map;
}

// Reload everything the signed-in user may read over REST: an admin
// everything, a customer the products and their own orders (the server
// lists no one else's), with themselves as the only user. Nothing is
// kept when isCurrent() says the session changed meanwhile; returns
// whether the state was replaced.
export async function load(user, isCurrent) {
	const admin = user.role === 'admin';
	const [users, products, orders, stats] = await Promise.all([
		admin ? get('users').then(r => r.data || []) : [user],
		get('products').then(r => r.data || []),
		getAll('orders?limit=100', ORDER_LIMIT),
		admin ? get('stats') : null
	]);
	if (!isCurrent())
		return false;
	state.users = byId(users);
	state.products = byId(products);
	state.orders = byId(orders);
	state.stats = Object.assign(emptyStats(), stats || {});
	state.stats.byStatus = Object.assign(emptyStats().byStatus,
	    (stats && stats.byStatus) || {});
	state.loaded = true;
	for (const topic of ['users', 'products', 'orders', 'stats', 'alerts'])
		emit(topic);
	emit('loaded');
	return true;
}

// Forget everything (sign-out) and tell the views.
export function reset() {
	state.loaded = false;
	state.users = new Map();
	state.products = new Map();
	state.orders = new Map();
	state.stats = emptyStats();
	state.alerts = [];
	state.eventTimes = [];
	for (const topic of ['users', 'products', 'orders', 'stats', 'alerts'])
		emit(topic);
}

// Newest first; each date is read once, not once per comparison.
export function sortedOrders() {
	return [...state.orders.values()].map(o => [millis(o.createdAt), o])
	    .sort((a, b) => b[0] - a[0] || (a[1].id < b[1].id ? 1 : -1))
	    .map(x => x[1]);
}

// Keep the newer of two versions of a document.
function newer(current, doc) {
	if (!current || !current.updatedAt || !doc.updatedAt)
		return true;
	return millis(doc.updatedAt) >= millis(current.updatedAt);
}

// Apply a change to one collection map; returns the previous version.
function applyDoc(map, event) {
	const key = event.key || (event.doc && event.doc.id);
	if (!key)
		return null;
	const prev = map.get(key) || null;
	if (event.op === 'delete' || /\.deleted$/.test(event.type)) {
		map.delete(key);
		return prev;
	}
	if (event.doc) {
		if (newer(prev, event.doc))
			map.set(key, event.doc);
	} else if (prev && event.changed) {
		const next = Object.assign({}, prev);
		for (const [k, v] of Object.entries(event.changed))
			if (!k.includes('.'))
				next[k] = v;
		map.set(key, next);
	}
	return prev;
}

// The status an order had before this event, from our copy or its history.
function previousStatus(prev, doc) {
	if (prev)
		return prev.status;
	const history = (doc && doc.history) || [];
	return history.length >= 2 ? history[history.length - 2].status : null;
}

// Open minute buckets up to `minute` (ms), keeping the last sixty.
function openMinutes(minute) {
	const per = state.stats.ordersPerMinute;
	const last = per.length ? millis(per[per.length - 1].minute) : 0;
	if (minute <= last)
		return false;
	let m = last && minute - last <= 3600000 ? last + 60000 : minute;
	for (; m <= minute; m += 60000)
		per.push({ minute: new Date(m).toISOString(), count: 0,
		    revenueCents: 0 });
	while (per.length > 60)
		per.shift();
	return true;
}

function minuteOf(ms) {
	return Math.floor(ms / 60000) * 60000;
}

// Move the per-minute window on as the clock passes; true if it moved.
export function tickMinutes() {
	return state.loaded && openMinutes(minuteOf(Date.now()));
}

function bumpMinute(doc, count, cents) {
	const minute = minuteOf(millis(doc.createdAt) || Date.now());
	openMinutes(minute);
	const bucket = state.stats.ordersPerMinute
	    .find(b => millis(b.minute) === minute);
	if (bucket) {
		bucket.count += count;
		bucket.revenueCents += cents;
	}
}

// Count an order's items in (sign 1) or out of (sign -1) the top products.
function countTop(order, sign) {
	const top = state.stats.topProducts || [];
	for (const item of (order && order.items) || []) {
		let entry = top.find(t => t.productId === item.productId);
		if (!entry) {
			if (sign < 0)
				continue;
			entry = { productId: item.productId, sku: item.sku,
			    name: item.name, qty: 0, revenueCents: 0 };
			top.push(entry);
		}
		const qty = Number(item.qty) || 0;
		entry.qty = Math.max(0, entry.qty + sign * qty);
		entry.revenueCents = Math.max(0, entry.revenueCents + sign * qty *
		    (Number(item.unitPriceCents) || 0));
	}
	top.sort((a, b) => b.qty - a.qty);
	state.stats.topProducts = top.slice(0, 10);
}

// Keep counts by status, revenue and the per-minute series in step.
function applyOrderStats(event, prev) {
	const stats = state.stats;
	const doc = event.doc;
	const total = Number((doc || prev || {}).totalCents) || 0;
	if (event.type === 'order.created') {
		if (prev || !doc)
			return false;
		stats.byStatus[doc.status] = (stats.byStatus[doc.status] || 0) + 1;
		if (doc.status !== CANCELLED) {
			stats.revenueCents += total;
			countTop(doc, 1);
		}
		bumpMinute(doc, 1, doc.status !== CANCELLED ? total : 0);
		return true;
	}
	if (event.type === 'order.deleted') {
		if (!prev)
			return false;
		stats.byStatus[prev.status] =
		    Math.max(0, (stats.byStatus[prev.status] || 0) - 1);
		return true;
	}
	const status = doc ? doc.status : event.changed && event.changed.status;
	const before = previousStatus(prev, doc);
	if (!status || !before || status === before)
		return false;
	stats.byStatus[before] = Math.max(0, (stats.byStatus[before] || 0) - 1);
	stats.byStatus[status] = (stats.byStatus[status] || 0) + 1;
	if (status === CANCELLED && before !== CANCELLED) {
		// Cancelled orders count for no revenue, overall or per minute.
		stats.revenueCents = Math.max(0, stats.revenueCents - total);
		countTop(doc || prev, -1);
		const minute = minuteOf(millis((doc || prev).createdAt));
		const bucket = stats.ordersPerMinute
		    .find(b => millis(b.minute) === minute);
		if (bucket)
			bucket.revenueCents = Math.max(0,
			    bucket.revenueCents - total);
	}
	return true;
}

// Apply one event from the feed to the state and tell the views.
export function apply(event) {
	const now = Date.now();
	state.eventTimes.push(now);
	while (state.eventTimes.length && state.eventTimes[0] < now - 10000)
		state.eventTimes.shift();
	const type = event.type || '';
	if (type.startsWith('order.')) {
		const prev = applyDoc(state.orders, event);
		// The version before this event, for views that count matches.
		Object.defineProperty(event, 'previous', { value: prev });
		if (applyOrderStats(event, prev))
			emit('stats');
		trimOrders();
		emit('orders', event);
	} else if (type.startsWith('product.')) {
		applyDoc(state.products, event);
		emit('products', event);
	} else if (type.startsWith('user.')) {
		applyDoc(state.users, event);
		emit('users', event);
	} else if (type === 'alert.low_stock') {
		if (event.doc)
			applyDoc(state.products, Object.assign({}, event,
			    { op: 'update' }));
		state.alerts.unshift({ at: event.publishedAt || now,
		    product: event.doc, key: event.key,
		    stock: event.changed ? event.changed.stock :
		    event.doc && event.doc.stock });
		state.alerts.length = Math.min(state.alerts.length, ALERT_LIMIT);
		emit('products', event);
		emit('alerts', event);
	}
	emit('event', event);
}

// Forget the oldest orders beyond the limit the views keep.
function trimOrders() {
	if (state.orders.size <= ORDER_LIMIT * 2)
		return;
	for (const o of sortedOrders().slice(ORDER_LIMIT))
		state.orders.delete(o.id);
}

// Events received in the last `secs` seconds, per second.
export function eventRate(secs) {
	const since = Date.now() - secs * 1000;
	return state.eventTimes.filter(t => t >= since).length / secs;
}

export function customers() {
	return [...state.users.values()]
	    .filter(u => u.role === 'customer')
	    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
}
