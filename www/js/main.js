// The dashboard: three views over one state. State comes from REST on
// load and on system.resync; after that only from the event stream.

import { EventFeed } from './events.js';
import * as store from './store.js';
import { config, loadConfig } from './config.js';
import { initDemo } from './demo.js';
import { initPortal } from './portal.js';
import { initAdmin } from './admin.js';
import { initLive } from './live.js';

const VIEWS = ['portal', 'admin', 'live'];
const CONN_TEXT = {
	live: 'Live',
	reconnecting: 'Reconnecting',
	offline: 'Offline'
};

const views = {};
let pending = [];
let loading = null;

function currentView() {
	const name = location.hash.replace(/^#/, '');
	return VIEWS.includes(name) ? name : 'portal';
}

function showView() {
	const name = currentView();
	for (const v of VIEWS) {
		document.getElementById('view-' + v).hidden = v !== name;
		const tab = document.getElementById('tab-' + v);
		if (v === name)
			tab.setAttribute('aria-current', 'page');
		else
			tab.removeAttribute('aria-current');
	}
	document.body.dataset.view = name;
	for (const v of VIEWS)
		views[v].visible(v === name);
}

function setConnection(status) {
	const node = document.getElementById('conn');
	node.dataset.state = status;
	document.getElementById('conn-text').textContent = CONN_TEXT[status];
}

function showLoadError(message, what) {
	const node = document.getElementById('load-error');
	node.hidden = !message;
	node.textContent = message ? 'Could not load ' + (what || 'data') +
	    ': ' + message + '. Retrying.' : '';
}

// The configuration comes first: every view is built from it. Until it
// loads the page says so and tries again, with a growing pause.
async function waitForConfig() {
	let wait = 1000;
	document.body.dataset.config = 'loading';
	for (;;) {
		try {
			await loadConfig();
			showLoadError(null);
			document.body.dataset.config = 'ok';
			return;
		} catch (e) {
			document.body.dataset.config = 'error';
			showLoadError(e.message, 'the configuration');
			await new Promise(r => setTimeout(r, wait));
			wait = Math.min(wait * 2, 10000);
		}
	}
}

// Load state over REST; events that arrive meanwhile wait and are
// applied after, in order.
async function reload() {
	if (loading)
		return loading;
	store.state.loaded = false;
	loading = (async () => {
		let wait = 1000;
		for (;;) {
			try {
				await store.load();
				showLoadError(null);
				break;
			} catch (e) {
				showLoadError(e.message);
				await new Promise(r => setTimeout(r, wait));
				wait = Math.min(wait * 2, 10000);
			}
		}
		const queued = pending;
		pending = [];
		for (const event of queued)
			store.apply(event);
	})();
	try {
		await loading;
	} finally {
		loading = null;
	}
}

function onEvent(event) {
	if (event.type === 'system.resync') {
		pending = [];
		reload();
		return;
	}
	if (!store.state.loaded)
		pending.push(event);
	else
		store.apply(event);
}

async function start() {
	await waitForConfig();
	views.portal = initPortal();
	views.admin = initAdmin();
	views.live = initLive();
	initDemo();
	window.addEventListener('hashchange', showView);
	showView();
	const feed = new EventFeed(new URL('api/events?topics=' +
	    config.topics.join(','), document.baseURI), config.eventTypes, {
		onEvent,
		onStatus: setConnection,
		onRestart: () => reload()
	});
	feed.open();
	reload();
	window.ordercast = { store, feed, config };
}

start();
