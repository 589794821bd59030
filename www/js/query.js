// The admin's order query: search text, status, date range, sort and
// page size, kept in the page's address (#admin?q=...&status=...) so a
// view can be shared or reloaded. It becomes a filter in the language of
// docs/filters.md for the server, and the same test in the page, so that
// live events can be placed without asking the server again.

import { millis } from './format.js';

// The columns the table may be sorted by, and their values in a document.
export const SORTS = {
	id: o => String(o.id || ''),
	createdAt: o => millis(o.createdAt),
	customerId: o => String(o.customerId || ''),
	totalCents: o => Number(o.totalCents) || 0,
	status: o => String(o.status || '')
};
export const PAGE_SIZES = [25, 50, 100, 200];
const DEFAULT = { q: '', status: '', from: '', to: '', sort: '-createdAt',
	limit: 25 };

// A string literal of the filter language.
function literal(s) {
	return "'" + String(s).replace(/'/g, "''") + "'";
}

// A LIKE pattern matching s anywhere, its wildcards taken literally.
function containing(s) {
	return literal('%' + String(s).replace(/[\\%_]/g, c => '\\' + c) + '%');
}

function isDay(s) {
	return /^\d{4}-\d{2}-\d{2}$/.test(s) && !isNaN(Date.parse(s));
}

// The day after an ISO day, for an end of range that includes the day.
function nextDay(day) {
	return new Date(Date.parse(day) + 86400000).toISOString().slice(0, 10);
}

// The query from the address (missing or bad parts get their default).
export function fromHash(hash) {
	const i = hash.indexOf('?');
	const p = new URLSearchParams(i < 0 ? '' : hash.slice(i + 1));
	const q = Object.assign({}, DEFAULT);
	q.q = (p.get('q') || '').slice(0, 200);
	q.status = p.get('status') || '';
	q.from = isDay(p.get('from') || '') ? p.get('from') : '';
	q.to = isDay(p.get('to') || '') ? p.get('to') : '';
	const sort = p.get('sort') || '';
	if (SORTS[sort.replace(/^-/, '')])
		q.sort = sort;
	const limit = Number(p.get('limit'));
	if (PAGE_SIZES.includes(limit))
		q.limit = limit;
	return q;
}

// The address of a query: only what differs from the default.
export function toHash(view, q) {
	const p = new URLSearchParams();
	for (const k of Object.keys(DEFAULT))
		if (q[k] !== DEFAULT[k] && q[k] !== '')
			p.set(k, String(q[k]));
	const s = p.toString();
	return '#' + view + (s ? '?' + s : '');
}

// The customers a search names (by name or email), from the users the
// admin holds.
function customersNamed(text, users) {
	const t = text.toLowerCase();
	const ids = [];
	for (const u of users.values())
		if (u.role !== 'admin' && (String(u.name || '').toLowerCase()
		    .includes(t) || String(u.email || '').toLowerCase()
		    .includes(t)))
			ids.push(u.id);
	return ids.slice(0, 100);
}

// The parts of a query: filter text for the server and a test for the
// page, built from the same terms.
export function compile(q, users) {
	const terms = [];
	const tests = [];
	if (q.status) {
		terms.push('status = ' + literal(q.status));
		tests.push(o => o.status === q.status);
	}
	if (q.from) {
		terms.push('createdAt >= ' + literal(q.from));
		const t = Date.parse(q.from);
		tests.push(o => millis(o.createdAt) >= t);
	}
	if (q.to) {
		terms.push('createdAt < ' + literal(nextDay(q.to)));
		const t = Date.parse(nextDay(q.to));
		tests.push(o => millis(o.createdAt) < t);
	}
	const text = q.q.trim();
	if (text) {
		const any = [];
		const anyTests = [];
		const hex = text.replace(/^#/, '').toLowerCase();
		if (/^[0-9a-f]{24}$/.test(hex)) {
			any.push('id = ' + literal(hex));
			anyTests.push(o => String(o.id).toLowerCase() === hex);
		}
		const ids = customersNamed(text, users);
		if (ids.length) {
			any.push('customerId IN (' + ids.map(literal).join(', ') +
			    ')');
			const set = new Set(ids);
			anyTests.push(o => set.has(o.customerId));
		}
		any.push('items.name ILIKE ' + containing(text),
		    'items.sku ILIKE ' + containing(text));
		const low = text.toLowerCase();
		anyTests.push(o => (o.items || []).some(i =>
		    String(i.name || '').toLowerCase().includes(low) ||
		    String(i.sku || '').toLowerCase().includes(low)));
		terms.push('(' + any.join(' OR ') + ')');
		tests.push(o => anyTests.some(t => t(o)));
	}
	const desc = q.sort.startsWith('-');
	const key = SORTS[q.sort.replace(/^-/, '')];
	const sign = desc ? -1 : 1;
	return {
		where: terms.join(' AND '),
		sort: q.sort,
		matches: o => tests.every(t => t(o)),
		// The order of the list: the sort column, then the id.
		compare: (a, b) => {
			const x = key(a), y = key(b);
			if (x !== y)
				return (x < y ? -1 : 1) * sign;
			const i = String(a.id), j = String(b.id);
			return i === j ? 0 : (i < j ? -1 : 1) * sign;
		}
	};
}

// The query string of a list request (without the cursor).
export function listParams(compiled, limit) {
	const p = new URLSearchParams();
	if (compiled.where)
		p.set('where', compiled.where);
	p.set('sort', compiled.sort);
	p.set('limit', String(limit));
	return p;
}
