// Formatting of money, times and ids for display.

const money = new Intl.NumberFormat('en-US', {
	style: 'currency', currency: 'USD'
});
const moneyShort = new Intl.NumberFormat('en-US', {
	style: 'currency', currency: 'USD', notation: 'compact',
	maximumFractionDigits: 1
});
const timeFmt = new Intl.DateTimeFormat(undefined, {
	hour: '2-digit', minute: '2-digit', second: '2-digit'
});
const minuteFmt = new Intl.DateTimeFormat(undefined, {
	hour: '2-digit', minute: '2-digit'
});
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
	month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'
});

export function cents(n) {
	return money.format((Number(n) || 0) / 100);
}

export function centsShort(n) {
	return moneyShort.format((Number(n) || 0) / 100);
}

function toDate(v) {
	if (v instanceof Date)
		return v;
	if (typeof v === 'number')
		return new Date(v);
	if (typeof v === 'string')
		return new Date(v);
	// Extended JSON {"$date": ...} if a document ever carries one.
	if (v && v.$date !== undefined)
		return toDate(v.$date.$numberLong !== undefined ?
		    Number(v.$date.$numberLong) : v.$date);
	return null;
}

export function time(v) {
	const d = toDate(v);
	return d && !isNaN(d) ? timeFmt.format(d) : '';
}

// The minute of a time, for a chart's per-minute values.
export function minute(v) {
	const d = toDate(v);
	return d && !isNaN(d) ? minuteFmt.format(d) : '';
}

export function dateTime(v) {
	const d = toDate(v);
	return d && !isNaN(d) ? dateTimeFmt.format(d) : '';
}

export function millis(v) {
	const d = toDate(v);
	return d && !isNaN(d) ? d.getTime() : 0;
}

// The last six hex digits of an ObjectId: enough to tell orders apart.
export function shortId(id) {
	return '#' + String(id || '').slice(-6);
}

// A status as the page shows it: the server's name, capitalized.
export function statusLabel(s) {
	const name = String(s || 'unknown');
	return name.charAt(0).toUpperCase() + name.slice(1);
}
