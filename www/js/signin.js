// The sign-in view: email and password, errors in words, and in the local
// demo the sample accounts to pick from. The demo list comes from
// demo-accounts.json, a file only the local stack serves (`make install`
// leaves it out), so a real installation shows no list.

import { el } from './dom.js';
import { post } from './api.js';

// "3 minutes", "1 second": a wait in words.
function inWords(secs) {
	const s = Math.max(1, Math.ceil(Number(secs) || 0));
	if (s < 60)
		return s + (s === 1 ? ' second' : ' seconds');
	const m = Math.ceil(s / 60);
	return m + (m === 1 ? ' minute' : ' minutes');
}

// What went wrong with a sign-in, for a person to read.
export function signInError(e) {
	if (e.status === 0)
		return 'The server cannot be reached. Check the connection ' +
		    'and try again.';
	if (e.status === 401)
		return 'Wrong email or password.';
	if (e.status === 429)
		return 'Too many failed sign-ins. Try again in ' +
		    (e.retryAfter ? inWords(e.retryAfter) : 'a few minutes') + '.';
	if (e.status === 400)
		return 'Enter your email and your password.';
	if (e.status >= 500)
		return 'The server cannot sign anyone in right now. Try again ' +
		    'in a moment.';
	return 'Sign-in failed: ' + e.message;
}

// A usable demo list ({accounts:[{email,name,role}], password?}), or null.
async function loadDemoAccounts() {
	let data;
	try {
		const res = await fetch(new URL('demo-accounts.json',
		    document.baseURI), { headers: { Accept: 'application/json' } });
		if (!res.ok)
			return null;
		data = await res.json();
	} catch (e) {
		return null;
	}
	if (!data || !Array.isArray(data.accounts))
		return null;
	const accounts = data.accounts.filter(a => a &&
	    typeof a.email === 'string' && a.email);
	if (!accounts.length)
		return null;
	return { accounts, password: typeof data.password === 'string' ?
	    data.password : null };
}

// handlers: onSignedIn(user) after a successful sign-in.
export function initSignIn(handlers) {
	const view = document.getElementById('signin');
	const form = document.getElementById('signin-form');
	const email = document.getElementById('signin-email');
	const password = document.getElementById('signin-password');
	const submit = document.getElementById('signin-submit');
	const error = document.getElementById('signin-error');
	const note = document.getElementById('signin-note');
	const demo = document.getElementById('demo-accounts');
	const demoList = document.getElementById('demo-account-list');
	const demoNote = document.getElementById('demo-accounts-note');
	let demoLoaded = false;
	let busy = false;

	function pick(account) {
		email.value = account.email;
		error.textContent = '';
		password.focus();
	}

	async function showDemoAccounts() {
		if (demoLoaded)
			return;
		demoLoaded = true;
		const demoData = await loadDemoAccounts();
		if (!demoData)
			return;
		demoNote.textContent = 'Every sample account of the local demo ' +
		    'has the password deploy/up printed' +
		    (demoData.password ? ' (password: ' + demoData.password +
		    ', unless ORDERCAST_DEMO_PASSWORD named another)' : '') + '.';
		demoList.replaceChildren(...demoData.accounts.map(a =>
		    el('li', {}, el('button', { type: 'button',
			class: 'demo-account', 'data-email': a.email,
			onclick: () => pick(a) },
			el('span', { class: 'demo-account-name' },
			    a.name || a.email),
			el('span', { class: 'demo-account-email muted' },
			    a.email),
			a.role ? el('span', { class: 'badge' }, a.role) : null))));
		demo.hidden = false;
	}

	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		if (busy)
			return;
		note.textContent = '';
		if (!email.value.trim() || !password.value) {
			error.textContent = 'Enter your email and your password.';
			(email.value.trim() ? password : email).focus();
			return;
		}
		busy = true;
		submit.disabled = true;
		error.textContent = '';
		try {
			const s = await post('session', { email: email.value.trim(),
			    password: password.value });
			password.value = '';
			handlers.onSignedIn(s.user);
		} catch (e) {
			error.textContent = signInError(e);
			password.select();
		} finally {
			busy = false;
			submit.disabled = false;
		}
	});

	return {
		// Show the view, with a note above the form (or none).
		show(message) {
			view.hidden = false;
			note.textContent = message || '';
			error.textContent = '';
			password.value = '';
			showDemoAccounts();
			email.focus();
		},
		hide() {
			view.hidden = true;
			note.textContent = '';
			error.textContent = '';
		}
	};
}
