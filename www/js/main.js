// The dashboard: a sign-in view, then the views the role allows over one
// state (a customer the portal, an admin all three). State comes from
// REST on sign-in and on system.resync; after that only from the event
// stream, which asks for the topics the role may read. The tabs of one
// browser share one stream (events.js), and the connection pill says
// live only while the stream is open and the server's parts are up.

import { EventFeed, SharedFeed } from './events.js';
import { watchHealth } from './health.js';
import * as store from './store.js';
import { config, loadConfig } from './config.js';
import { get, del, setUnauthorizedHandler } from './api.js';
import { initDemo } from './demo.js';
import { initPortal } from './portal.js';
import { initAdmin } from './admin.js';
import { initLive } from './live.js';
import { initSignIn } from './signin.js';
import { toast } from './toast.js';

const VIEWS = ['portal', 'admin', 'live'];
// The views of each role; anyone else sees the sign-in view only.
const ROLE_VIEWS = { admin: VIEWS, customer: ['portal'] };
const ENDED = 'Your session ended; sign in again.';
const CONN_TEXT = {
	live: 'Live',
	reconnecting: 'Reconnecting',
	offline: 'Offline',
	degraded: 'Degraded'
};

const views = {};
let pending = [];
let loading = null;
let signin = null;
// The signed-in user ({id,name,email,role}) and their event feed; the
// generation changes at every sign-in and sign-out, so that work begun
// for one session never lands in the next.
let user = null;
let feed = null;
let generation = 0;
// The stream's own state and, when a part is down, why.
let streamState = 'reconnecting';
let health = null;

function allowedViews() {
	return user ? ROLE_VIEWS[user.role] || [] : [];
}

function currentView() {
	const name = location.hash.replace(/^#/, '').replace(/\?.*/, '');
	const allowed = allowedViews();
	return allowed.includes(name) ? name : allowed[0] || null;
}

function showView() {
	const name = currentView();
	const allowed = allowedViews();
	for (const v of VIEWS) {
		document.getElementById('view-' + v).hidden = v !== name;
		document.getElementById('tab-' + v).hidden = !allowed.includes(v);
		const tab = document.getElementById('tab-' + v);
		if (v === name)
			tab.setAttribute('aria-current', 'page');
		else
			tab.removeAttribute('aria-current');
	}
	document.body.dataset.view = name || 'signin';
	for (const v of VIEWS)
		views[v].visible(v === name);
}

// The pill: the stream's state, unless it is open while events cannot
// flow, which is "degraded" with the reason.
function showConnection() {
	const node = document.getElementById('conn');
	const reason = streamState === 'live' && health ? health.reason : null;
	const state = reason ? 'degraded' : streamState;
	node.dataset.state = state;
	if (reason)
		node.dataset.reason = reason;
	else
		delete node.dataset.reason;
	document.getElementById('conn-text').textContent = CONN_TEXT[state] +
	    (reason ? ': ' + reason : '');
	node.title = reason ? 'Updates are not flowing: ' + reason :
	    'Event stream: ' + CONN_TEXT[state].toLowerCase();
}

function setConnection(status) {
	streamState = status;
	if (status === 'live' && health)
		health.check();
	showConnection();
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
// applied after, in order. Gives up when the session changes.
async function reload() {
	if (loading)
		return loading;
	if (!user)
		return;
	const gen = generation;
	const current = () => gen === generation;
	store.state.loaded = false;
	const run = (async () => {
		let wait = 1000;
		for (;;) {
			try {
				if (!await store.load(user, current))
					return;
				showLoadError(null);
				break;
			} catch (e) {
				if (!current() || e.status === 401)
					return;
				showLoadError(e.message);
				await new Promise(r => setTimeout(r, wait));
				wait = Math.min(wait * 2, 10000);
				if (!current())
					return;
			}
		}
		const queued = pending;
		pending = [];
		for (const event of queued)
			store.apply(event);
	})();
	loading = run;
	try {
		await run;
	} finally {
		if (loading === run)
			loading = null;
	}
}

// A customer's own order? The relay sends a customer only their own
// orders; the page keeps to that too.
function mayKeep(event) {
	if (!user || user.role === 'admin' ||
	    !String(event.type || '').startsWith('order.'))
		return true;
	return !event.doc || event.doc.customerId === user.id;
}

function onEvent(event) {
	if (!mayKeep(event))
		return;
	if (String(event.type || '').startsWith('system.') && health)
		health.check();
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

// The topics the role may ask the event stream for: more is refused.
function topicsFor(role) {
	if (role === 'admin')
		return config.topics;
	const mine = role === 'customer' ? ['orders', 'products'] :
	    ['products'];
	return mine.filter(t => config.topics.includes(t));
}

// A lost stream may mean a session that ended elsewhere: ask.
async function checkSession() {
	const gen = generation;
	try {
		await get('session');
	} catch (e) {
		if (e.status === 401 && gen === generation && user)
			leave(ENDED);
	}
}

function onStatus(status) {
	setConnection(status);
	if (status === 'offline')
		checkSession();
}

// Signed in: show who, the views of the role, open the stream, load.
function enter(u) {
	generation++;
	user = u;
	pending = [];
	document.body.dataset.role = u.role;
	signin.hide();
	document.getElementById('account-name').textContent = u.name || u.email;
	document.getElementById('account-role').textContent = u.role;
	document.getElementById('account').hidden = false;
	document.getElementById('tabs').hidden = false;
	document.getElementById('conn').hidden = false;
	document.getElementById('demo').hidden = u.role !== 'admin';
	views.portal.setUser(u);
	showView();
	const topics = topicsFor(u.role).join(',');
	const url = new URL('api/events?topics=' + topics, document.baseURI);
	const handlers = { onEvent, onStatus, onRestart: () => reload() };
	feed = SharedFeed.supported() ?
	    new SharedFeed(u.id + ':' + topics, url, config.eventTypes,
	    handlers) : new EventFeed(url, config.eventTypes, handlers);
	feed.open();
	health.check();
	window.ordercast.feed = feed;
	window.ordercast.user = u;
	reload();
}

// Signed out (here or elsewhere): close the stream, forget the state,
// show the sign-in view with a note.
function leave(message) {
	generation++;
	user = null;
	pending = [];
	loading = null;
	if (feed)
		feed.close();
	feed = null;
	health.reset();
	streamState = 'reconnecting';
	window.ordercast.feed = null;
	window.ordercast.user = null;
	delete document.body.dataset.role;
	document.getElementById('account').hidden = true;
	document.getElementById('tabs').hidden = true;
	document.getElementById('conn').hidden = true;
	document.getElementById('demo').hidden = true;
	showLoadError(null);
	views.portal.setUser(null);
	store.reset();
	showView();
	signin.show(message);
}

async function signOut() {
	const button = document.getElementById('sign-out');
	button.disabled = true;
	try {
		await del('session');
		leave(null);
	} catch (e) {
		// 401: already signed out elsewhere, which the handler shows.
		if (e.status !== 401)
			toast('Could not sign out', e.message, 'is-error');
	} finally {
		button.disabled = false;
	}
}

// Who is signed in, asked once at start: a 401 means nobody. Any other
// failure is retried with a growing pause.
async function whoAmI() {
	let wait = 1000;
	for (;;) {
		try {
			const s = await get('session');
			showLoadError(null);
			return s.user;
		} catch (e) {
			if (e.status === 401)
				return null;
			showLoadError(e.message, 'the session');
			await new Promise(r => setTimeout(r, wait));
			wait = Math.min(wait * 2, 10000);
		}
	}
}

async function start() {
	await waitForConfig();
	window.ordercast = { store, config, feed: null, user: null };
	views.portal = initPortal();
	views.admin = initAdmin();
	views.live = initLive();
	initDemo();
	signin = initSignIn({ onSignedIn: enter });
	health = watchHealth(() => user !== null, showConnection);
	setUnauthorizedHandler(() => {
		if (user)
			leave(ENDED);
	});
	document.getElementById('sign-out').addEventListener('click', signOut);
	// The skip link goes to the heading of the view shown, without
	// changing the address (which names the view).
	document.querySelector('.skip-link').addEventListener('click', (ev) => {
		ev.preventDefault();
		const name = currentView();
		const view = document.getElementById(name ? 'view-' + name :
		    'signin');
		const target = view.querySelector('h1') || view;
		target.setAttribute('tabindex', '-1');
		target.focus();
		target.scrollIntoView({ block: 'start' });
	});
	window.addEventListener('hashchange', showView);
	const u = await whoAmI();
	if (u)
		enter(u);
	else
		leave(null);
}

start();
