// The REST API: JSON in and out, errors turned into ApiError with the
// server's {"error":{"code","message"}}. The session travels in the
// HttpOnly cookie the server set at sign-in; the page never sees it.

export class ApiError extends Error {
	constructor(status, code, message, retryAfter) {
		super(message);
		this.status = status;
		this.code = code;
		// Seconds from a 429's Retry-After, or null.
		this.retryAfter = retryAfter ?? null;
	}
}

const BASE = new URL('api/', document.baseURI);

// Called with the ApiError when a request other than the session's own
// answers 401: the session ended elsewhere (signed out, expired, the
// password or role changed).
let onUnauthorized = null;

export function setUnauthorizedHandler(fn) {
	onUnauthorized = fn;
}

// Tell the page that the server no longer knows this session.
export function sessionEnded(err) {
	if (onUnauthorized)
		onUnauthorized(err);
}

// Retry-After as whole seconds (a number or an HTTP date), or null.
function retrySeconds(value) {
	if (!value)
		return null;
	if (/^\d+$/.test(value.trim()))
		return Number(value.trim());
	const at = Date.parse(value);
	return Number.isNaN(at) ? null :
	    Math.max(1, Math.ceil((at - Date.now()) / 1000));
}

// A random key for Idempotency-Key (crypto.randomUUID needs a secure
// context; getRandomValues works everywhere).
export function randomKey() {
	const bytes = new Uint8Array(16);
	crypto.getRandomValues(bytes);
	return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}

// One request. Every state change goes out as application/json, an
// empty body included, as the API requires of them.
export async function request(method, path, body, headers) {
	const init = { method, headers: { Accept: 'application/json' } };
	if (body !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	} else if (method !== 'GET' && method !== 'HEAD') {
		init.headers['Content-Type'] = 'application/json';
	}
	Object.assign(init.headers, headers || {});
	let res;
	try {
		res = await fetch(new URL(path, BASE), init);
	} catch (e) {
		throw new ApiError(0, 'network', 'The server cannot be reached.');
	}
	let data = null;
	const text = await res.text();
	if (text) {
		try {
			data = JSON.parse(text);
		} catch (e) {
			data = null;
		}
	}
	if (!res.ok) {
		const err = data && data.error ? data.error : {};
		const e = new ApiError(res.status, err.code || 'http_' + res.status,
		    err.message || res.statusText || 'Request failed',
		    retrySeconds(res.headers.get('Retry-After')));
		if (res.status === 401 && path !== 'session')
			sessionEnded(e);
		throw e;
	}
	return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body, headers) =>
	request('POST', path, body === undefined ? {} : body, headers);
export const put = (path, body) => request('PUT', path, body);
export const del = (path) => request('DELETE', path);

// Every page of a list ({"data":[...],"next":cursor}), up to a limit.
export async function getAll(path, max) {
	const out = [];
	let next = null;
	do {
		const sep = path.includes('?') ? '&' : '?';
		const url = next ? path + sep + 'before=' +
		    encodeURIComponent(next) : path;
		const page = await get(url);
		out.push(...(page && page.data ? page.data : []));
		next = page ? page.next : null;
	} while (next && out.length < (max || 500));
	return out;
}
