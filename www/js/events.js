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
