// The live feed: one EventSource on /api/events. Events are handed on in
// order of their id (a Redis stream id "ms-seq"), each at most once. The
// browser reconnects by itself, resending Last-Event-ID; when it gives up
// (the server answered with an error), a new stream is opened after a
// pause with ?lastEventId= so that the server replays what was missed
// (or sends system.resync). With no event seen yet, the caller reloads.
// The event types to listen for come from GET /api/config.

// Compare two stream ids; a missing id sorts first.
export function compareIds(a, b) {
	if (a === b)
		return 0;
	if (!a)
		return -1;
	if (!b)
		return 1;
	const [am, as = '0'] = String(a).split('-');
	const [bm, bs = '0'] = String(b).split('-');
	if (am.length !== bm.length)
		return am.length - bm.length;
	if (am !== bm)
		return am < bm ? -1 : 1;
	const an = Number(as), bn = Number(bs);
	return an === bn ? 0 : (an < bn ? -1 : 1);
}

export class EventFeed {
	// types: the event types to listen for. handlers: onEvent(event),
	// onStatus('live'|'reconnecting'|'offline'), onRestart() when a
	// stream without history replaced a lost one.
	constructor(url, types, handlers) {
		this.url = url;
		this.types = types;
		this.handlers = handlers;
		this.source = null;
		this.lastId = null;
		this.status = null;
		this.retryMs = 1000;
		this.retryTimer = null;
		this.count = 0;
		this.closed = false;
		this.onMessage = (msg) => this.receive(msg);
		this.onOffline = () => this.setStatus('offline');
		this.onOnline = () => {
			if (!this.source || this.source.readyState === 2)
				this.restart();
		};
		window.addEventListener('offline', this.onOffline);
		window.addEventListener('online', this.onOnline);
	}

	// Close the stream for good (sign-out): no reconnect, no more events.
	close() {
		this.closed = true;
		clearTimeout(this.retryTimer);
		this.retryTimer = null;
		if (this.source)
			this.source.close();
		window.removeEventListener('offline', this.onOffline);
		window.removeEventListener('online', this.onOnline);
	}

	open() {
		if (this.closed)
			return;
		const url = new URL(this.url);
		if (this.lastId)
			url.searchParams.set('lastEventId', this.lastId);
		const source = new EventSource(url);
		this.source = source;
		this.setStatus('reconnecting');
		source.onopen = () => {
			this.retryMs = 1000;
			this.setStatus('live');
		};
		source.onerror = () => {
			if (source.readyState === EventSource.CLOSED) {
				this.setStatus('offline');
				this.scheduleRestart();
			} else {
				this.setStatus('reconnecting');
			}
		};
		source.addEventListener('message', this.onMessage);
		for (const type of this.types)
			source.addEventListener(type, this.onMessage);
	}

	scheduleRestart() {
		if (this.retryTimer)
			return;
		const wait = this.retryMs;
		this.retryMs = Math.min(this.retryMs * 2, 15000);
		this.retryTimer = setTimeout(() => {
			this.retryTimer = null;
			this.restart();
		}, wait);
	}

	restart() {
		if (this.closed)
			return;
		if (this.source)
			this.source.close();
		const resumed = Boolean(this.lastId);
		this.open();
		if (!resumed)
			this.handlers.onRestart();
	}

	setStatus(status) {
		if (status === this.status)
			return;
		this.status = status;
		this.handlers.onStatus(status);
	}

	receive(msg) {
		let event;
		try {
			event = JSON.parse(msg.data);
		} catch (e) {
			return;
		}
		if (!event || typeof event !== 'object')
			return;
		const id = event.id || msg.lastEventId;
		if (id && this.lastId && compareIds(id, this.lastId) <= 0)
			return;
		if (id)
			this.lastId = id;
		if (!event.type && msg.type !== 'message')
			event.type = msg.type;
		this.count++;
		this.handlers.onEvent(event);
	}
}

// One live connection per browser: the tabs of one session elect a
// holder with a Web Lock; it alone keeps the EventSource and passes every
// event and status on over a BroadcastChannel. When the holder closes,
// the lock goes to a waiting tab, which resumes the stream from the last
// id it was passed, so the server replays what fell in between. Without
// Web Locks or BroadcastChannel every tab keeps a stream of its own.
export class SharedFeed {
	// name: what tabs that may share a stream have in common (the user
	// and the topics); the rest as for EventFeed.
	constructor(name, url, types, handlers) {
		this.name = 'ordercast-feed:' + name;
		this.url = url;
		this.types = types;
		this.handlers = handlers;
		this.feed = null;
		this.lastId = null;
		this.status = null;
		this.closed = false;
		this.holder = false;
		this.heardHolder = false;
		this.release = null;
		this.channel = null;
		this.count = 0;
	}

	static supported() {
		return typeof BroadcastChannel === 'function' &&
		    Boolean(navigator.locks && navigator.locks.request);
	}

	// The EventSource of this tab, when it holds the connection.
	get source() {
		return this.feed ? this.feed.source : null;
	}

	open() {
		if (this.closed)
			return;
		if (!SharedFeed.supported()) {
			this.lead();
			return;
		}
		this.channel = new BroadcastChannel(this.name);
		this.channel.onmessage = (msg) => this.hear(msg.data || {});
		this.setStatus('reconnecting');
		this.channel.postMessage({ kind: 'hello' });
		navigator.locks.request(this.name, () => {
			if (this.closed)
				return null;
			this.lead();
			return new Promise((resolve) => { this.release = resolve; });
		}).catch(() => {});
	}

	// This tab holds the connection now: open the stream where the
	// events passed on so far ended.
	lead() {
		this.holder = true;
		document.documentElement.dataset.feedHolder = 'true';
		this.feed = new EventFeed(this.url, this.types, {
			onEvent: (event) => {
				this.tell({ kind: 'event', event });
				this.deliver(event);
			},
			onStatus: (status) => {
				this.tell({ kind: 'status', status });
				this.setStatus(status);
			},
			onRestart: () => {
				this.tell({ kind: 'restart' });
				this.handlers.onRestart();
			}
		});
		this.feed.lastId = this.lastId;
		this.feed.open();
		// Taking over from a tab that passed on no event since this one
		// loaded: there is no id to resume from, so what came in between
		// may be missed as events; reload the state instead.
		if (this.heardHolder && !this.lastId) {
			this.tell({ kind: 'restart' });
			this.handlers.onRestart();
		}
	}

	tell(message) {
		if (this.channel && !this.closed)
			this.channel.postMessage(message);
	}

	// A message of another tab: the holder's events and status, or a new
	// tab asking for the status.
	hear(m) {
		if (this.closed)
			return;
		if (m.kind !== 'hello')
			this.heardHolder = true;
		if (m.kind === 'hello' && this.holder && this.feed)
			this.tell({ kind: 'status', status: this.feed.status });
		else if (m.kind === 'event' && !this.holder && m.event)
			this.deliver(m.event);
		else if (m.kind === 'status' && !this.holder && m.status)
			this.setStatus(m.status);
		else if (m.kind === 'restart' && !this.holder)
			this.handlers.onRestart();
	}

	// Hand an event on once, in order of its id.
	deliver(event) {
		const id = event.id;
		if (id && this.lastId && compareIds(id, this.lastId) <= 0)
			return;
		if (id)
			this.lastId = id;
		this.count++;
		this.handlers.onEvent(event);
	}

	setStatus(status) {
		if (!status || status === this.status)
			return;
		this.status = status;
		this.handlers.onStatus(status);
	}

	// Close for good (sign-out): the lock goes to another tab, if any.
	close() {
		this.closed = true;
		if (this.feed)
			this.feed.close();
		if (this.channel)
			this.channel.close();
		if (this.release)
			this.release();
		this.release = null;
		this.holder = false;
		delete document.documentElement.dataset.feedHolder;
	}
}
