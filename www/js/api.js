// The REST API: JSON in and out, errors turned into ApiError with the
// server's {"error":{"code","message"}}.

export class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

const BASE = new URL('api/', document.baseURI);

// A random key for Idempotency-Key (crypto.randomUUID needs a secure
// context; getRandomValues works everywhere).
export function randomKey() {
	const bytes = new Uint8Array(16);
	crypto.getRandomValues(bytes);
	return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}

export async function request(method, path, body, headers) {
	const init = { method, headers: { Accept: 'application/json' } };
	if (body !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
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
		throw new ApiError(res.status, err.code || 'http_' + res.status,
		    err.message || res.statusText || 'Request failed');
	}
	return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body, headers) =>
	request('POST', path, body === undefined ? {} : body, headers);
export const put = (path, body) => request('PUT', path, body);

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
