// A real third-party FHIR R4 server for Careloop's integration tests, demo and benchmark: Medplum's FhirRouter
// (4.5.2, in memory) behind Node's http module, with a SMART Backend Services token endpoint.
//
//   node tests/peers/medplum/server.mjs [--host 127.0.0.1] [--port 0] [--client id=jwks_url]...
//       [--static-token T] [--require-auth] [--token-lifetime 60] [--log]
//
// Once listening it prints one line of JSON to stdout: {"base", "token_url", "admin"}. Nothing else goes to
// stdout; --log writes one line per request (method, path, status; never a body or a query) to stderr.
//
//   [base]/...               FHIR REST (QuestionnaireResponse and the other R4 types); [base]/metadata is open
//   /auth/token              SMART Backend Services: client_credentials with a private_key_jwt assertion
//   /_admin/clients          POST {"client_id", "jwks_uri" | "jwks"}: register a client
//   /_admin/expire-tokens    POST: every issued token stops working at once
//   /_admin/stats            GET: resources by type, token requests, FHIR requests by method
//   /_admin/reset            POST: empty the store, its index and the counters (clients and tokens stay)
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { OAuthError, SmartAuth } from './auth.mjs';
import { FHIR_JSON, FhirService, loadDefinitions, outcome } from './fhir.mjs';

const MAX_BODY_BYTES = 1024 * 1024;

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function options() {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      client: { type: 'string', multiple: true, default: [] },
      'static-token': { type: 'string' },
      'require-auth': { type: 'boolean', default: false },
      'token-lifetime': { type: 'string', default: '60' },
      log: { type: 'boolean', default: false },
    },
  });
  const clients = values.client.map((spec) => {
    const at = spec.indexOf('=');
    if (at < 1) {
      throw new Error(`--client wants client_id=jwks_url, got ${JSON.stringify(spec)}`);
    }
    return [spec.slice(0, at), spec.slice(at + 1)];
  });
  const port = Number(values.port);
  const tokenLifetime = Number(values['token-lifetime']);
  if (!Number.isInteger(port) || port < 0 || !(tokenLifetime > 0)) {
    throw new Error('--port wants an integer, --token-lifetime a positive number of seconds');
  }
  return { ...values, port, tokenLifetime, clients };
}

/** The whole body, or an HttpError 413 once it passes the bound (the rest is drained, not kept). */
function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    request.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
      }
    });
    request.on('end', () =>
      size > MAX_BODY_BYTES
        ? reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`))
        : resolve(Buffer.concat(chunks))
    );
    request.on('error', reject);
  });
}

function send(response, status, body, headers = {}, contentType = 'application/json') {
  const payload = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, {
    ...(payload ? { 'Content-Type': contentType } : {}),
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  response.end(payload);
}

async function jsonBody(request) {
  const raw = await readBody(request);
  if (raw.length === 0) {
    return undefined;
  }
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/(fhir\+)?json\b/i.test(type)) {
    throw new HttpError(415, 'send JSON: application/fhir+json or application/json');
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the request body is not JSON');
  }
}

function main() {
  const config = options();
  let server;
  const stop = () => {
    if (!server?.listening) {
      process.exit(0);
    }
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  // Before the slow part, so a signal during start-up is not lost (a background job ignores SIGINT by default).
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  loadDefinitions();
  const stats = { fhir_requests: {} };
  let auth;
  let fhir;

  async function fhirRequest(request, response, url) {
    const method = request.method;
    const path = url.pathname.slice('/fhir'.length);
    stats.fhir_requests[method] = (stats.fhir_requests[method] ?? 0) + 1;
    const open = method === 'GET' && /^\/(metadata|\.well-known\/smart-configuration)\/?$/.test(path);
    const access = open ? 'ok' : auth.check(request.headers.authorization);
    if (access !== 'ok') {
      await readBody(request).catch(() => undefined);
      const challenge = access === 'invalid' ? 'Bearer error="invalid_token"' : 'Bearer';
      const text = access === 'invalid' ? 'The bearer token is unknown or expired' : 'A bearer token is required';
      send(response, 401, outcome('login', text), { 'WWW-Authenticate': challenge }, FHIR_JSON);
      return;
    }
    if (/^\/\.well-known\/smart-configuration\/?$/.test(path)) {
      send(response, 200, {
        token_endpoint: auth.tokenUrl,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
        scopes_supported: ['system/*.rs', 'system/*.cruds', 'system/QuestionnaireResponse.cru'],
        capabilities: ['client-confidential-asymmetric'],
      });
      return;
    }
    let body;
    try {
      body = await jsonBody(request);
    } catch (error) {
      const code = error.status === 413 ? 'too-costly' : 'structure';
      send(response, error.status ?? 400, outcome(code, error.message), {}, FHIR_JSON);
      return;
    }
    const query = url.search.slice(1);
    const answer = await fhir.handle({ method, path, query, headers: request.headers, body });
    send(response, answer.status, answer.body, answer.headers, FHIR_JSON);
  }

  async function tokenRequest(request, response) {
    const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
    try {
      if (request.method !== 'POST') {
        throw new OAuthError(405, 'invalid_request', 'POST the token request');
      }
      const raw = await readBody(request);
      if (!/^application\/x-www-form-urlencoded\b/i.test(request.headers['content-type'] ?? '')) {
        throw new OAuthError(400, 'invalid_request', 'send application/x-www-form-urlencoded');
      }
      send(response, 200, await auth.token(new URLSearchParams(raw.toString('utf8'))), noStore);
    } catch (error) {
      if (!(error instanceof OAuthError)) {
        throw error;
      }
      send(response, error.status, error.body, noStore);
    }
  }

  async function adminRequest(request, response, name) {
    const route = `${request.method} ${name}`;
    if (route === 'GET stats') {
      const { token_requests, tokens_issued } = auth.counts;
      send(response, 200, { resources: fhir.repo.counts(), token_requests, tokens_issued, ...stats });
    } else if (route === 'POST reset') {
      await readBody(request);
      await fhir.reset();
      stats.fhir_requests = {};
      Object.assign(auth.counts, { token_requests: 0, tokens_issued: 0 });
      send(response, 200, { reset: true });
    } else if (route === 'POST expire-tokens') {
      await readBody(request);
      send(response, 200, { expired: auth.expireTokens() });
    } else if (route === 'POST clients') {
      const body = await jsonBody(request);
      try {
        auth.registerClient(body?.client_id, { jwksUri: body?.jwks_uri, jwks: body?.jwks });
      } catch (error) {
        throw new HttpError(400, error.message);
      }
      send(response, 201, { client_id: body.client_id });
    } else {
      throw new HttpError(404, `no admin endpoint ${route}`);
    }
  }

  server = createServer(async (request, response) => {
    const started = process.hrtime.bigint();
    const url = new URL(request.url, 'http://peer.invalid');
    try {
      if (url.pathname === '/fhir' || url.pathname.startsWith('/fhir/')) {
        await fhirRequest(request, response, url);
      } else if (url.pathname === '/auth/token') {
        await tokenRequest(request, response);
      } else if (url.pathname.startsWith('/_admin/')) {
        await adminRequest(request, response, url.pathname.slice('/_admin/'.length));
      } else {
        await readBody(request).catch(() => undefined);
        throw new HttpError(404, `nothing at ${url.pathname}`);
      }
    } catch (error) {
      if (!(error instanceof HttpError)) {
        process.stderr.write(`medplum peer: ${request.method} ${url.pathname}: ${error.stack ?? error}\n`);
      }
      if (!response.headersSent) {
        send(response, error.status ?? 500, { error: error.status ? error.message : 'internal error' });
      } else {
        response.destroy();
      }
    }
    if (config.log) {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      process.stderr.write(`${request.method} ${url.pathname} ${response.statusCode} ${ms.toFixed(1)}ms\n`);
    }
  });

  server.listen(config.port, config.host, () => {
    const { port } = server.address();
    const origin = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    const endpoints = { base: `${origin}/fhir`, token_url: `${origin}/auth/token`, admin: `${origin}/_admin` };
    auth = new SmartAuth({
      tokenUrl: endpoints.token_url,
      tokenLifetime: config.tokenLifetime,
      staticToken: config['static-token'],
      requireAuth: config['require-auth'],
    });
    for (const [clientId, jwksUri] of config.clients) {
      auth.registerClient(clientId, { jwksUri });
    }
    fhir = new FhirService({ base: endpoints.base, tokenUrl: endpoints.token_url });
    process.stdout.write(`${JSON.stringify(endpoints)}\n`);
  });
}

main();
