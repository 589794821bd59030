// Toast notifications: short messages that fade after a few seconds.

import { el } from './dom.js';

const MAX = 4;

export function toast(title, detail, kind) {
	const box = document.getElementById('toasts');
	const node = el('div', { class: 'toast ' + (kind || ''),
	    role: 'status' },
	    el('strong', { class: 'toast-title' }, title),
	    detail ? el('span', { class: 'toast-detail' }, detail) : null,
	    el('button', { type: 'button', class: 'toast-close',
		'aria-label': 'Dismiss', onclick: () => node.remove() }, '×'));
	box.appendChild(node);
	while (box.children.length > MAX)
		box.firstElementChild.remove();
	setTimeout(() => {
		node.classList.add('toast-out');
		setTimeout(() => node.remove(), 400);
	}, 5000);
}
