// Live dashboard: orders and revenue per minute, counts by status, and
// system health. Orders and counts move with events; health, cache and
// traffic figures are read from /api/health and /api/metrics.

import { el, setText, perFrame } from './dom.js';
import { cents, centsShort, time, minute, millis, statusLabel }
    from './format.js';
import * as store from './store.js';
import { config } from './config.js';
import { sessionEnded } from './api.js';

const POLL_MS = 5000;
const ACCENT = '#4f46e5';
const GREEN = '#0f9f6e';

// /api/health answers 503 with the same body when something is down.
async function fetchJson(path) {
	const res = await fetch(new URL('api/' + path, document.baseURI),
	    { headers: { Accept: 'application/json' } });
	if (res.status === 401)
		sessionEnded(null);
	const body = await res.json().catch(() => null);
	// The server's clock, to age the watcher's heartbeat by.
	const date = Date.parse(res.headers.get('Date') || '');
	if (body && typeof body === 'object' && !Number.isNaN(date))
		Object.defineProperty(body, '__date', { value: date });
	return { status: res.status, body };
}

// uPlot is loaded when the charts are first shown: without it the rest
// of the dashboard still works.
let uPlot = null;

async function loadChartLibrary() {
	if (!uPlot)
		uPlot = (await import('../vendor/uPlot.esm.js')).default;
	return uPlot;
}

// A tooltip with the values under the pointer: the minute and its
// figure, kept inside the chart.
function tooltipPlugin(label, format) {
	let tip = null;
	return {
		hooks: {
			init(u) {
				tip = el('div', { class: 'chart-tip', hidden: true,
				    'aria-hidden': 'true' });
				u.over.appendChild(tip);
				u.over.addEventListener('mouseleave', () => {
					tip.hidden = true;
				});
			},
			setCursor(u) {
				const i = u.cursor.idx;
				if (i === null || i === undefined || u.cursor.left < 0) {
					tip.hidden = true;
					return;
				}
				const x = u.data[0][i];
				const y = u.data[1][i];
				tip.textContent = minute(x * 1000) + ' · ' + label + ': ' +
				    format(y || 0);
				tip.hidden = false;
				const left = Math.min(u.cursor.left + 12,
				    u.over.clientWidth - tip.offsetWidth - 4);
				tip.style.transform = 'translate(' + Math.max(0, left) +
				    'px, ' + Math.max(0, u.cursor.top - 36) + 'px)';
			}
		}
	};
}

function chartOptions(label, color, bars, format, tipFormat) {
	return {
		plugins: [tooltipPlugin(label, tipFormat)],
		width: 400,
		height: 220,
		legend: { show: false },
		cursor: { drag: { x: false, y: false }, points: { size: 6 } },
		scales: { x: { time: true, range: (u, min, max) =>
		    [min - 30, max + 30] }, y: { range: (u, min, max) =>
		    [0, Math.max(bars ? 4 : 100, max * 1.15)] } },
		axes: [
			{ stroke: '#64748b', grid: { stroke: '#eef1f6' },
			    ticks: { stroke: '#e2e8f0' } },
			{ stroke: '#64748b', grid: { stroke: '#eef1f6' },
			    ticks: { show: false }, size: 56,
			    values: (u, vals) => vals.map(format) }
		],
		series: [
			{},
			{
				label,
				stroke: color,
				width: bars ? 0 : 2,
				fill: bars ? color + 'cc' : color + '26',
				points: { show: false },
				paths: bars ? uPlot.paths.bars({ size: [0.7, 40] }) :
				    undefined
			}
		]
	};
}

export function initLive() {
	let visible = false;
	let charts = null;
	let chartsLoading = false;
	let pollTimer = null;
	let lastSse = null;
	let lastCache = null;

	// One count per status the server knows, after the totals.
	const kpis = document.getElementById('kpis');
	for (const s of config.statuses)
		kpis.append(el('li', { class: 'kpi status-' + s },
		    el('span', { class: 'kpi-label' }, statusLabel(s)),
		    el('span', { class: 'kpi-value', id: 'kpi-' + s }, '0')));

	function series() {
		const per = store.state.stats.ordersPerMinute || [];
		const xs = per.map(b => millis(b.minute) / 1000);
		return {
			orders: [xs, per.map(b => Number(b.count) || 0)],
			revenue: [xs, per.map(b => (Number(b.revenueCents) || 0) / 100)]
		};
	}

	async function makeCharts() {
		try {
			await loadChartLibrary();
		} catch (e) {
			for (const id of ['chart-orders', 'chart-revenue'])
				document.getElementById(id).replaceChildren(el('p',
				    { class: 'empty' }, 'Charts are unavailable: ' +
				    'the chart library did not load.'));
			return null;
		}
		const ordersBox = document.getElementById('chart-orders');
		const revenueBox = document.getElementById('chart-revenue');
		const data = series();
		ordersBox.replaceChildren();
		revenueBox.replaceChildren();
		const orders = new uPlot(chartOptions('Orders', ACCENT, true,
		    v => String(Math.round(v * 10) / 10), v => String(v)),
		    data.orders, ordersBox);
		const revenue = new uPlot(chartOptions('Revenue', GREEN, false,
		    v => centsShort(v * 100), v => cents(v * 100)), data.revenue,
		    revenueBox);
		const fit = () => {
			for (const [u, box] of [[orders, ordersBox],
			    [revenue, revenueBox]]) {
				const width = Math.floor(box.clientWidth);
				if (width > 0 && width !== u.width)
					u.setSize({ width, height: box.clientHeight ||
					    220 });
			}
		};
		new ResizeObserver(fit).observe(ordersBox);
		new ResizeObserver(fit).observe(revenueBox);
		fit();
		return { orders, revenue };
	}

	function renderStats() {
		const s = store.state.stats;
		document.getElementById('view-live').dataset.loaded =
		    String(store.state.loaded);
		if (!store.state.loaded) {
			// Loading, not zero: nothing is known yet.
			for (const node of kpis.querySelectorAll('.kpi-value'))
				node.textContent = '…';
			setText('chart-orders-caption', 'Loading…');
			setText('chart-revenue-caption', 'Loading…');
			return;
		}
		const by = s.byStatus || {};
		let total = 0;
		for (const status of config.statuses) {
			const n = Number(by[status]) || 0;
			total += n;
			setText('kpi-' + status, n.toLocaleString());
		}
		setText('kpi-orders', total.toLocaleString());
		setText('kpi-revenue', cents(s.revenueCents));
		const per = s.ordersPerMinute || [];
		const count = per.reduce((n, b) => n + (Number(b.count) || 0), 0);
		const revenue = per.reduce((n, b) =>
		    n + (Number(b.revenueCents) || 0), 0);
		const ordersCaption = document.getElementById('chart-orders-caption');
		ordersCaption.textContent = count + ' in the last hour';
		document.getElementById('chart-orders').dataset.total = String(count);
		setText('chart-revenue-caption', cents(revenue) +
		    ' in the last hour');
		setText('live-updated', 'Updated ' + time(Date.now()));
		renderTop(s.topProducts || []);
		if (charts) {
			const data = series();
			charts.orders.setData(data.orders);
			charts.revenue.setData(data.revenue);
			// What each chart shows, for tests and curious readers.
			for (const [id, u] of [['chart-orders', charts.orders],
			    ['chart-revenue', charts.revenue]])
				document.getElementById(id).dataset.plotted = String(
				    u.data[1].reduce((n, v) => n + (v || 0), 0));
		}
	}

	function renderTop(list) {
		const box = document.getElementById('top-products');
		if (!list.length) {
			box.replaceChildren(el('li', { class: 'empty' },
			    'No sales yet.'));
			return;
		}
		box.replaceChildren(...list.slice(0, 5).map(p => {
			const prod = store.state.products.get(p.productId || p.id);
			const name = p.name || (prod && prod.name) || p.sku ||
			    p.productId || p.id;
			const qty = p.qty ?? p.units ?? p.count ?? p.quantity;
			return el('li', {},
			    el('span', { class: 'top-name' }, name),
			    el('span', { class: 'top-figure muted' },
				[qty !== undefined ? qty + ' sold' : null,
				 p.revenueCents !== undefined ?
				 cents(p.revenueCents) : null]
				.filter(Boolean).join(' · ')));
		}));
	}

	function fact(label, value, level) {
		return [el('dt', {}, label), el('dd', { class: level ?
		    'level-' + level : '' }, value)];
	}

	function part(name, p, extra) {
		if (!p)
			return fact(name, 'unknown', 'warn');
		const bits = [p.ok ? 'OK' : 'Down'];
		if (p.latencyMs !== undefined && p.latencyMs !== null)
			bits.push(p.latencyMs + ' ms');
		if (extra)
			bits.push(extra);
		return fact(name, bits.join(' · '), p.ok ? 'ok' : 'bad');
	}

	function renderHealth(h) {
		const status = document.getElementById('health-status');
		const box = document.getElementById('health');
		if (!h) {
			status.textContent = 'unreachable';
			status.className = 'badge level-bad';
			box.replaceChildren(...fact('API', 'Not reachable', 'bad'));
			return;
		}
		status.textContent = h.status || 'unknown';
		status.className = 'badge level-' + (h.status === 'ok' ? 'ok' :
		    'bad');
		const w = h.watcher || {};
		// The heartbeat's age is the watcher's lag now; lagMs is how
		// late its last event was published.
		const age = typeof w.at === 'number' && h.__date ?
		    Math.max(0, h.__date - w.at) : null;
		// The Date header counts whole seconds.
		const lag = [age !== null ? 'heartbeat ' + (age < 1500 ?
		    'within 1 s' : Math.round(age / 1000) + ' s ago') : null,
		    w.lagMs !== undefined &&
		    w.lagMs !== null ? 'last event ' + w.lagMs + ' ms late' : null]
		    .filter(Boolean).join(' · ') || null;
		box.replaceChildren(
		    ...part('MongoDB', h.mongodb),
		    ...part('Redis', h.redis),
		    ...fact('Watcher', [w.ok ? 'OK' : 'Down', lag]
			.filter(Boolean).join(' · '), w.ok ? 'ok' : 'bad'));
	}

	function renderTraffic(m) {
		const box = document.getElementById('traffic');
		const comps = (m && m.components) || {};
		const sse = comps.sse || {};
		const cache = (m && m.cache) || {};
		const now = Date.now();
		let serverRate = null;
		const sent = Number(sse.events_sent);
		if (lastSse && Number.isFinite(sent) && now > lastSse.at)
			serverRate = Math.max(0, (sent - lastSse.sent) /
			    ((now - lastSse.at) / 1000));
		if (Number.isFinite(sent))
			lastSse = { sent, at: now };
		const ratio = Number(cache.hitRatio);
		// The ratio of the last interval between two polls, from the
		// counters' growth.
		const hits = Number(cache.hits), misses = Number(cache.misses);
		let recent = null;
		if (lastCache && Number.isFinite(hits) && Number.isFinite(misses)) {
			const dh = hits - lastCache.hits, dm = misses - lastCache.misses;
			if (dh >= 0 && dm >= 0 && dh + dm > 0)
				recent = dh / (dh + dm);
		}
		const span = lastCache ? Math.round((now - lastCache.at) / 1000) :
		    null;
		if (Number.isFinite(hits) && Number.isFinite(misses))
			lastCache = { hits, misses, at: now };
		box.replaceChildren(
		    ...fact('Events per second',
			store.eventRate(10).toFixed(1) + ' here' +
			(serverRate !== null ? ' · ' + serverRate.toFixed(1) +
			' sent' : '')),
		    ...fact('Connected clients', sse.clients_connected !==
			undefined ? String(sse.clients_connected) : '–'),
		    ...fact('Product cache hit ratio, all API processes, last ' +
			(span ?? POLL_MS / 1000) + ' s', recent !== null ?
			(recent * 100).toFixed(1) + ' %' : 'no reads'),
		    ...fact('Product cache hit ratio since the counters began',
			Number.isFinite(ratio) ? (ratio * 100).toFixed(1) + ' %' :
			'–'),
		    ...fact('Product cache hits / misses since then',
			(cache.hits ?? '–') + ' / ' + (cache.misses ?? '–')),
		    ...fact('Watcher events', comps.watch &&
			comps.watch.events !== undefined ?
			String(comps.watch.events) : '–'));
	}

	async function poll() {
		const [health, metrics] = await Promise.allSettled([
			fetchJson('health'), fetchJson('metrics')]);
		renderHealth(health.status === 'fulfilled' ? health.value.body :
		    null);
		renderTraffic(metrics.status === 'fulfilled' &&
		    metrics.value.status === 200 ? metrics.value.body : null);
	}

	function schedule() {
		clearTimeout(pollTimer);
		pollTimer = null;
		if (!visible)
			return;
		pollTimer = setTimeout(async () => {
			await poll();
			schedule();
		}, POLL_MS);
	}

	// Events redraw once a frame, however many arrive.
	store.on('stats', perFrame(renderStats));
	store.on('products', perFrame(() =>
	    renderTop(store.state.stats.topProducts || [])));
	// The per-minute window moves on with the clock.
	setInterval(() => {
		if (store.tickMinutes())
			renderStats();
	}, 10000);
	renderStats();
	return {
		visible(v) {
			visible = v;
			if (!v) {
				schedule();
				return;
			}
			if (!charts && !chartsLoading) {
				chartsLoading = true;
				makeCharts().then((made) => {
					charts = made;
					renderStats();
				});
			}
			poll();
			schedule();
		}
	};
}
