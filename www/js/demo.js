// Demo controls: buttons that ask the API to simulate activity.

import { post } from './api.js';
import { cents, shortId, statusLabel } from './format.js';

// A line about what the simulation did, from the API's answer.
function describe(kind, result) {
	const r = result || {};
	if (r.order && kind === 'new-order')
		return 'Order ' + shortId(r.order.id) + ' placed (' +
		    cents(r.order.totalCents) + ')';
	if (r.order && r.to)
		return 'Order ' + shortId(r.order.id) + ': ' +
		    statusLabel(r.from) + ' → ' + statusLabel(r.to);
	if (r.product && r.stock !== undefined)
		return r.product.name + ' restocked to ' + r.stock;
	if (r.product && r.delta !== undefined)
		return r.product.name + ': ' + r.delta + ' sold, ' +
		    r.product.stock + ' left';
	return {
		'new-order': 'New order simulated',
		'update-stock': 'Stock levels updated',
		'status-update': 'Order status updated'
	}[kind];
}

export function initDemo() {
	const out = document.getElementById('demo-result');
	for (const button of document.querySelectorAll('[data-simulate]')) {
		button.addEventListener('click', async () => {
			const kind = button.dataset.simulate;
			button.disabled = true;
			out.classList.remove('is-error');
			try {
				const result = await post('simulate/' + kind);
				out.textContent = describe(kind, result);
			} catch (e) {
				out.classList.add('is-error');
				out.textContent = e.message;
			} finally {
				button.disabled = false;
			}
		});
	}
}
