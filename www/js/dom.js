// Small DOM helpers. Every value is inserted as text: nothing here ever
// parses a string as HTML, so server data cannot become markup.

// Build an element: el('td', {class: 'num'}, 'text', childNode, ...).
// Attributes starting with "on" become event listeners; strings and
// numbers among the children become text nodes.
export function el(tag, attrs, ...children) {
	const node = document.createElement(tag);
	for (const [name, value] of Object.entries(attrs || {})) {
		if (value === undefined || value === null || value === false)
			continue;
		if (name.startsWith('on') && typeof value === 'function')
			node.addEventListener(name.slice(2), value);
		else if (name === 'dataset')
			Object.assign(node.dataset, value);
		else if (value === true)
			node.setAttribute(name, '');
		else
			node.setAttribute(name, String(value));
	}
	append(node, children);
	return node;
}

// Append children (nodes, text, nested arrays; null is skipped).
function append(node, children) {
	for (const child of children) {
		if (child === undefined || child === null || child === false)
			continue;
		if (Array.isArray(child))
			append(node, child);
		else if (child instanceof Node)
			node.appendChild(child);
		else
			node.appendChild(document.createTextNode(String(child)));
	}
}

// Replace all children of a node.
export function replaceChildren(node, ...children) {
	node.replaceChildren();
	append(node, children);
}

// Set the text of the element with this id, if it exists.
export function setText(id, text) {
	const node = document.getElementById(id);
	if (node)
		node.textContent = String(text);
}

export function $(selector, root) {
	return (root || document).querySelector(selector);
}

// Keep a container's children in step with a list of items, reusing the
// node of each key so that focus and input survive updates. `create(item)`
// makes a node, `update(node, item)` refreshes it.
export function reconcile(container, items, keyOf, create, update) {
	const old = new Map();
	for (const child of container.children)
		if (child.dataset.key !== undefined)
			old.set(child.dataset.key, child);
	let cursor = container.firstElementChild;
	for (const item of items) {
		const key = String(keyOf(item));
		let node = old.get(key);
		if (node) {
			old.delete(key);
		} else {
			node = create(item);
			node.dataset.key = key;
		}
		update(node, item);
		if (node === cursor)
			cursor = cursor.nextElementSibling;
		else
			container.insertBefore(node, cursor);
	}
	for (const node of old.values())
		node.remove();
	// Anything else left after the cursor (an empty-state line) goes too.
	while (cursor) {
		const next = cursor.nextElementSibling;
		if (cursor.dataset.key === undefined)
			cursor.remove();
		cursor = next;
	}
}

// A placeholder line for an empty list.
export function emptyLine(container, tag, text) {
	container.replaceChildren(el(tag, { class: 'empty' }, text));
}

// Briefly highlight a node that just changed. An animation of its own,
// not a class taken off and put back: that would force a layout per
// change, which freezes a busy page.
export function flash(node) {
	if (typeof node.animate !== 'function')
		return;
	node.animate([{ backgroundColor: '#fff3bf' },
	    { backgroundColor: 'transparent' }],
	    { duration: 1200, easing: 'ease-out' });
}

// Run fn once in the next animation frame however often it is asked
// for before then: a burst of events costs one redraw per frame. A
// hidden page gets no frames, so a timer stands in.
export function perFrame(fn) {
	let asked = false;
	const run = () => {
		if (!asked)
			return;
		asked = false;
		fn();
	};
	return () => {
		if (asked)
			return;
		asked = true;
		if (document.visibilityState === 'visible')
			requestAnimationFrame(run);
		else
			setTimeout(run, 100);
	};
}
