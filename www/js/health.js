// Whether events can flow end to end, for the connection pill: the
// stream may be open while the watcher or Redis is down, and then
// nothing moves. GET /api/health is read at a modest pace while the page
// is visible (at once when it becomes visible, when the stream opens and
// on system events); a reason is kept while a part is down.

const POLL_MS = 2000;
// A heartbeat whose time has not moved for this long is stale: the
// watcher beats every second (docs/architecture.md), and its key lives
// five seconds after the last beat.
const STALE_MS = 2000;

// Why events cannot flow, from a health answer, or null when they can.
// `beat` keeps the last heartbeat time seen and when it was first seen.
function reasonOf(h, beat, now) {
	if (!h)
		return 'server unreachable';
	if (h.redis && h.redis.ok === false)
		return 'Redis down';
	if (h.mongodb && h.mongodb.ok === false)
		return 'database down';
	const w = h.watcher || {};
	if (w.ok === false)
		return 'watcher down';
	// Admins also see the heartbeat's time: one that stopped moving
	// tells of a watcher gone before its heartbeat key expired.
	if (typeof w.at === 'number') {
		if (beat.at !== w.at) {
			beat.at = w.at;
			beat.seen = now;
		} else if (now - beat.seen >= STALE_MS) {
			return 'watcher down';
		}
	}
	return null;
}

// Poll health while `active()` holds and the page is visible; calls
// onChange(reason) whenever the reason changes (null: all is well).
export function watchHealth(active, onChange) {
	let timer = null;
	let running = false;
	let reason;
	let beat = { at: null, seen: 0 };

	async function poll() {
		if (running)
			return;
		running = true;
		clearTimeout(timer);
		timer = null;
		let body = null;
		try {
			const res = await fetch(new URL('api/health',
			    document.baseURI), { headers: { Accept:
			    'application/json' }, cache: 'no-store' });
			body = await res.json().catch(() => null);
		} catch (e) {
			body = null;
		}
		running = false;
		if (!active())
			return;
		const r = reasonOf(body, beat, Date.now());
		if (r !== reason) {
			reason = r;
			onChange(r);
		}
		schedule();
	}

	function schedule() {
		clearTimeout(timer);
		timer = null;
		if (active() && document.visibilityState === 'visible')
			timer = setTimeout(poll, POLL_MS);
	}

	document.addEventListener('visibilitychange', () => {
		if (document.visibilityState === 'visible')
			poll();
		else
			schedule();
	});
	return {
		// Ask now (the stream opened, a system event came).
		check() {
			if (active() && document.visibilityState === 'visible')
				poll();
		},
		// Forget what was seen (sign-out).
		reset() {
			clearTimeout(timer);
			timer = null;
			reason = undefined;
			beat = { at: null, seen: 0 };
		},
		get reason() {
			return reason ?? null;
		}
	};
}
