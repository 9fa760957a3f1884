#!/usr/bin/env node
// Reads a Levee status site through a third-party Statuspage v2 client and
// prints what that client parsed, as one JSON line on stdout.
//
// Why: Levee's status site serves Atlassian Statuspage's public v2 API
// (levee_http::status_site::json). This script proves a client written for
// Statuspage, not for Levee, reads it: the `statuspage.io` npm package
// (ffflorian/api-clients), pinned at 3.3.8 because 3.4.x ships without its
// dist/ and needs Node 21.
//
// Install (once; Node 18 or later and npm):
//     apt-get update && apt-get install -y nodejs npm     # if `node` is missing
//     cd crates/levee/tests/statuspage-client && npm ci   # or `npm install`
//
// Run:
//     node crates/levee/tests/statuspage-client/read.js BASE_URL
//
// BASE_URL is the site's base, where the HTML page is served, e.g.
// http://127.0.0.1:8080/ (a dedicated status listener) or
// http://127.0.0.1:8080/_levee/status/ (a traffic listener); a URL ending in
// /api/v2 is accepted too and means the same site. The client fetches
// <base>/api/v2/summary.json, components.json and status.json.
//
// Output (one line, then exit 0):
//     {"indicator":"major","description":"Partial System Outage",
//      "summary_indicator":"major",
//      "components":[{"name":"API","status":"operational","group":false},...],
//      "unresolved_incidents":["..."],"scheduled_maintenances":["..."]}
// `components` is components.json in its order (groups included, marked
// "group":true); the incident and maintenance names come from summary.json.
//
// Exit status: 0 parsed; 1 a request failed or a document lacks what the
// client reads (the reason on stderr, `read.js: ...`); 2 bad usage.
'use strict';

const TIMEOUT_MS = 10000;

function fail(code, message) {
  process.stderr.write(`read.js: ${message}\n`);
  process.exit(code);
}

function siteBase(arg) {
  let url;
  try {
    url = new URL(arg);
  } catch (_) {
    fail(2, `not a URL: ${JSON.stringify(arg)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(2, `not an http(s) URL: ${arg}`);
  }
  url.search = '';
  url.hash = '';
  // The client appends /api/v2/<document>.json to the base it is given.
  url.pathname = url.pathname.replace(/\/+$/, '').replace(/\/api\/v2$/, '');
  return url.toString().replace(/\/+$/, '');
}

function list(doc, member, where) {
  const value = doc && doc[member];
  if (!Array.isArray(value)) {
    throw new Error(`${where}: no "${member}" list`);
  }
  return value;
}

function rollup(doc, where) {
  const status = doc && doc.status;
  if (!status || typeof status.indicator !== 'string') {
    throw new Error(`${where}: no status.indicator`);
  }
  return status;
}

function describe(err) {
  if (err && err.response) {
    const { config = {}, status } = err.response;
    const url = `${config.baseURL || ''}${config.url || ''}`;
    return `GET ${url}: HTTP ${status}`;
  }
  if (err && err.config) {
    return `GET ${err.config.baseURL || ''}${err.config.url || ''}: ${err.code || err.message}`;
  }
  return err && err.message ? err.message : String(err);
}

async function main() {
  const arg = process.argv[2];
  if (!arg || arg === '-h' || arg === '--help' || process.argv.length > 3) {
    fail(2, 'usage: node read.js BASE_URL   (e.g. http://127.0.0.1:8080/_levee/status/)');
  }
  let Statuspage;
  try {
    ({ Statuspage } = require('statuspage.io'));
  } catch (err) {
    fail(1, `the statuspage.io package is not installed here (run \`npm ci\` in ${__dirname}): ${err.message}`);
  }
  // The page id only builds the default https://<id>.statuspage.io URL,
  // which setApiUrl replaces.
  const client = new Statuspage('levee');
  client.setApiUrl(siteBase(arg));
  // Loopback must not go through an HTTP(S)_PROXY from the environment, and
  // a server that never answers must not hang the caller.
  const http = client.apiClient;
  if (http && http.defaults) {
    http.defaults.proxy = false;
    http.defaults.timeout = TIMEOUT_MS;
  }

  const [summary, components, status] = await Promise.all([
    client.api.getSummary(),
    client.api.getComponents(),
    client.api.getStatus(),
  ]);

  const rolled = rollup(status, 'status.json');
  const out = {
    indicator: rolled.indicator,
    description: rolled.description,
    summary_indicator: rollup(summary, 'summary.json').indicator,
    components: list(components, 'components', 'components.json').map((c) => ({
      name: c.name,
      status: c.status,
      group: c.group === true,
    })),
    unresolved_incidents: list(summary, 'incidents', 'summary.json').map((i) => i.name),
    scheduled_maintenances: list(summary, 'scheduled_maintenances', 'summary.json').map((m) => m.name),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err) => fail(1, describe(err)));
