// Check docs/openapi.yaml and real answers of the API against it.
//
//   node tests/lib/openapi-check.mjs SPEC ANSWERS [--all]
//
// SPEC is validated as OpenAPI 3.1 (swagger-parser: the 3.1 schema and
// its own rules: unique operation ids, path parameters declared, refs
// that resolve). ANSWERS holds one recorded answer per line, as JSON:
//   {"method":"GET","url":"/api/products?x=1","status":200,"auth":"none",
//    "headers":{"content-type":"application/json"},"body":"..."}
// Each must match an operation of SPEC by method and path (or be the 405
// of a method the path does not list, with an Allow that names HEAD
// wherever GET is), a response by
// status, a media type by Content-Type, the response's required headers
// and, for JSON, its schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1
// uses). A HEAD answer has no body; its headers are checked as above.
// auth says whether the request carried a session ("bearer", "cookie"
// or "none"): an operation whose x-role is not "anyone" must not
// succeed without one. With --all, every operation of SPEC must have
// been answered at least once. Prints one line per problem; exits 1 if
// there is any.

import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

// The spec's paths as matchers, literal ones before templated ones.
function pathMatchers(api) {
	return Object.keys(api.paths).map((tpl) => {
		const names = [];
		const re = tpl.split(/(\{[^}]+\})/).map((part) => {
			if (part.startsWith('{')) {
				names.push(part.slice(1, -1));
				return '([^/]+)';
			}
			return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
		}).join('');
		return { tpl, names, re: new RegExp(`^${re}$`) };
	}).sort((a, b) => a.names.length - b.names.length);
}

// The response object for a status: exact, then 4XX-style, then default.
function responseFor(op, status) {
	const r = op.responses ?? {};
	return r[String(status)] ?? r[`${String(status)[0]}XX`] ?? r.default;
}

// The media type of a Content-Type, without parameters, lower-case.
function mediaType(ct) {
	return (ct ?? '').split(';')[0].trim().toLowerCase();
}

// Does a path answer HEAD: listed, or implied by its GET?
function answersHead(p) {
	return Boolean(p.head || p.get);
}

// A method a path does not list: 405 with an Allow header naming the
// path's methods (HEAD wherever GET is) and the body of
// components.responses.MethodNotAllowed.
function checkNotAllowed(api, ajv, tpl, a, where) {
	const problems = [];
	const p = api.paths[tpl];
	const want = METHODS.filter((x) => x === 'head' ? answersHead(p) : p[x])
	    .map((x) => x.toUpperCase()).sort().join(', ');
	const allow = (a.headers?.allow ?? '').split(',')
	    .map((x) => x.trim()).filter((x) => x !== '').sort().join(', ');
	if (allow !== want)
		problems.push(`${where}: Allow is "${allow}", not "${want}"`);
	const res = api.components?.responses?.MethodNotAllowed;
	const schema = res?.content?.['application/json']?.schema;
	if (!schema)
		return [...problems, `${where}: no MethodNotAllowed response`];
	if (a.method === 'HEAD') {
		if ((a.body ?? '') !== '')
			problems.push(`${where}: a HEAD answer with a body`);
		return problems;
	}
	let body;
	try {
		body = JSON.parse(a.body ?? '');
	} catch (e) {
		return [...problems, `${where}: the body is not JSON: ${e.message}`];
	}
	if (!ajv.validate(schema, body))
		problems.push(`${where}: body: ` +
		    ajv.errorsText(ajv.errors, { dataVar: 'body' }));
	return problems;
}

// Problems of one recorded answer, as strings.
function checkAnswer(api, matchers, ajv, a, seen) {
	const where = `${a.method} ${a.url} -> ${a.status}`;
	const path = a.url.split('?')[0];
	const m = matchers.find((x) => x.re.test(path));
	if (!m)
		return [`${where}: no path of the description matches ${path}`];
	const method = a.method.toLowerCase();
	const op = api.paths[m.tpl][method];
	if (!op && a.status === 405)
		return checkNotAllowed(api, ajv, m.tpl, a, where);
	if (!op)
		return [`${where}: ${m.tpl} has no ${a.method} operation`];
	seen.add(`${method} ${m.tpl}`);
	const res = responseFor(op, a.status);
	if (!res)
		return [`${where}: ${a.method} ${m.tpl} describes no ` +
		    `${a.status} answer`];
	const problems = [];
	const role = op['x-role'];
	if (!['anyone', 'customer', 'admin'].includes(role))
		problems.push(`${where}: ${a.method} ${m.tpl} has no x-role`);
	else if (role !== 'anyone' && a.auth === 'none' && a.status < 400)
		problems.push(`${where}: answered without a session, but ` +
		    `x-role is ${role}`);
	if (method === 'head' && (a.body ?? '') !== '')
		problems.push(`${where}: a HEAD answer with a body`);
	const headers = a.headers ?? {};
	for (const [name, h] of Object.entries(res.headers ?? {})) {
		const v = headers[name.toLowerCase()];
		if (v === undefined) {
			if (h.required)
				problems.push(`${where}: header ${name} is missing`);
			continue;
		}
		if (h.schema && !ajv.validate(h.schema, v))
			problems.push(`${where}: header ${name}: ` +
			    ajv.errorsText(ajv.errors, { dataVar: name }));
	}
	const content = res.content ?? {};
	const type = mediaType(headers['content-type']);
	if (Object.keys(content).length === 0)
		return problems;
	const media = content[type];
	if (!media) {
		problems.push(`${where}: Content-Type ${type || '(none)'} is ` +
		    `not one of ${Object.keys(content).join(', ')}`);
		return problems;
	}
	if (!media.schema || method === 'head')
		return problems;
	let body = a.body ?? '';
	if (type === 'application/json' || type.endsWith('+json')) {
		try {
			body = JSON.parse(body);
		} catch (e) {
			problems.push(`${where}: the body is not JSON: ${e.message}`);
			return problems;
		}
	}
	if (!ajv.validate(media.schema, body))
		problems.push(`${where}: body: ` +
		    ajv.errorsText(ajv.errors, { dataVar: 'body' }));
	return problems;
}

async function main(argv) {
	const args = argv.filter((x) => !x.startsWith('--'));
	const all = argv.includes('--all');
	if (args.length !== 2) {
		console.error('usage: openapi-check.mjs SPEC ANSWERS [--all]');
		return 2;
	}
	const [specFile, answersFile] = args;
	let api;
	try {
		// validate() checks the document and returns it dereferenced.
		api = await SwaggerParser.validate(specFile);
	} catch (e) {
		console.error(`${specFile}: ${e.message}`);
		return 1;
	}
	if (!String(api.openapi).startsWith('3.1.')) {
		console.error(`${specFile}: OpenAPI ${api.openapi}, not 3.1`);
		return 1;
	}
	const ajv = new Ajv2020({ strict: false, allErrors: true });
	addFormats(ajv);
	const matchers = pathMatchers(api);
	const seen = new Set();
	const problems = [];
	const lines = readFileSync(answersFile, 'utf8').split('\n')
	    .filter((l) => l.trim() !== '');
	for (const [i, line] of lines.entries()) {
		let a;
		try {
			a = JSON.parse(line);
		} catch (e) {
			problems.push(`${answersFile}:${i + 1}: ${e.message}`);
			continue;
		}
		problems.push(...checkAnswer(api, matchers, ajv, a, seen));
	}
	if (all) {
		for (const [tpl, item] of Object.entries(api.paths))
			for (const method of METHODS)
				if (item[method] && !seen.has(`${method} ${tpl}`))
					problems.push(`${method.toUpperCase()} ${tpl}: ` +
					    'described but never answered');
	}
	for (const p of problems)
		console.log(p);
	console.log(`${lines.length} answers checked against ${specFile}: ` +
	    `${problems.length} problems`);
	return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
