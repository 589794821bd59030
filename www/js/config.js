// The contract as the server holds it, from GET /api/config: order
// statuses and moves, topics, event types, the low-stock threshold and
// the API's limits. Loaded once before anything else starts; nothing in
// the dashboard keeps its own copy (docs/architecture.md).

import { get, ApiError } from './api.js';

export const config = {
	statuses: [],
	moves: [],
	topics: [],
	eventTypes: [],
	lowStock: 0,
	limits: {}
};

// The status a cancellation moves to: a presentation choice (its own
// button), not a rule; which orders may move there comes from the moves.
export const CANCELLED = 'cancelled';

function isStringList(v) {
	return Array.isArray(v) && v.every(s => typeof s === 'string');
}

// Load and check the configuration; throws ApiError when it is unusable.
export async function loadConfig() {
	const c = await get('config');
	if (!c || !isStringList(c.statuses) || !c.statuses.length ||
	    !Array.isArray(c.moves) || !isStringList(c.topics) ||
	    !Array.isArray(c.events) || typeof c.lowStock !== 'number')
		throw new ApiError(0, 'bad_config',
		    'The server sent an incomplete configuration.');
	config.statuses = c.statuses;
	config.moves = c.moves.filter(m => m && typeof m.from === 'string' &&
	    typeof m.to === 'string');
	config.topics = c.topics;
	config.eventTypes = c.events.map(e => e && e.type)
	    .filter(t => typeof t === 'string');
	config.lowStock = c.lowStock;
	config.limits = c.limits || {};
	return config;
}

// The forward move from a status (not a cancellation), or null.
export function nextStatus(status) {
	const m = config.moves.find(x => x.from === status &&
	    x.to !== CANCELLED);
	return m ? m.to : null;
}

// May an order in this status be cancelled?
export function canCancel(status) {
	return config.moves.some(x => x.from === status && x.to === CANCELLED);
}

export function isLowStock(stock) {
	return stock < config.lowStock;
}
