// Demo controls: buttons that ask the API to simulate activity.

import { post } from './api.js';
import { shortId } from './format.js';

function describe(kind, result) {
	const r = result || {};
	if (kind === 'new-order' && r.id)
		return 'Order ' + shortId(r.id) + ' placed';
	if (kind === 'status-update' && r.id && r.status)
		return 'Order ' + shortId(r.id) + ' is now ' + r.status;
	if (typeof r.updated === 'number')
		return r.updated + ' updated';
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
