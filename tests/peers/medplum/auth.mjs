// SMART Backend Services for the test peer: the client_credentials token endpoint with a private_key_jwt client
// assertion (RS384 or ES384) checked against the client's registered JWKS, and the bearer tokens it issues.
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ALGORITHMS = ['RS384', 'ES384'];
/** SMART: an assertion's exp is at most five minutes ahead; a little leeway for the client's rounding. */
const MAX_ASSERTION_LIFETIME_S = 300;
const CLOCK_LEEWAY_S = 5;
const JWKS_FETCH_TIMEOUT_MS = 5000;

export class OAuthError extends Error {
  constructor(status, error, description) {
    super(description);
    this.status = status;
    this.error = error;
  }

  get body() {
    return { error: this.error, error_description: this.message };
  }
}

const invalidClient = (description) => new OAuthError(401, 'invalid_client', description);

export class SmartAuth {
  #clients = new Map(); // client_id -> { jwksUri, jwks }
  #tokens = new Map(); // access token -> { clientId, scope, expiresAt (ms) }
  #seenJti = new Map(); // "client_id jti" -> exp (s), kept until the assertion has expired anyway

  constructor({ tokenUrl, tokenLifetime = 60, staticToken, requireAuth = false }) {
    this.tokenUrl = tokenUrl;
    this.tokenLifetime = tokenLifetime;
    this.staticToken = staticToken;
    this.requireAuth = requireAuth;
    this.counts = { token_requests: 0, tokens_issued: 0 };
  }

  /** Every /fhir request needs a bearer token once a client is registered or auth was asked for. */
  get required() {
    return this.requireAuth || Boolean(this.staticToken) || this.#clients.size > 0;
  }

  registerClient(clientId, { jwksUri, jwks }) {
    if (typeof clientId !== 'string' || !clientId) {
      throw new Error('client_id must be a non-empty string');
    }
    if (Boolean(jwksUri) === Boolean(jwks)) {
      throw new Error('give exactly one of jwks_uri and jwks');
    }
    if (jwks && !Array.isArray(jwks.keys)) {
      throw new Error('jwks must be a JWK Set ({"keys": [...]})');
    }
    this.#clients.set(clientId, { jwksUri, jwks });
  }

  expireTokens() {
    const count = this.#tokens.size;
    this.#tokens.clear();
    return count;
  }

  /** 'ok', 'missing' or 'invalid' for an Authorization header. */
  check(authorization) {
    if (!this.required) {
      return 'ok';
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) {
      return 'missing';
    }
    if (this.staticToken && match[1] === this.staticToken) {
      return 'ok';
    }
    const token = this.#tokens.get(match[1]);
    return token && token.expiresAt > Date.now() ? 'ok' : 'invalid';
  }

  /** Answers a token request (form fields in a URLSearchParams) or throws an OAuthError. */
  async token(form) {
    this.counts.token_requests += 1;
    if (form.get('grant_type') !== 'client_credentials') {
      throw new OAuthError(400, 'unsupported_grant_type', 'grant_type must be client_credentials');
    }
    if (form.get('client_assertion_type') !== ASSERTION_TYPE) {
      throw invalidClient(`client_assertion_type must be ${ASSERTION_TYPE}`);
    }
    const scope = form.get('scope');
    if (!scope) {
      throw new OAuthError(400, 'invalid_scope', 'scope is required');
    }
    const clientId = await this.#verifyAssertion(form.get('client_assertion'));
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    for (const [old, { expiresAt }] of this.#tokens) {
      if (expiresAt <= now) {
        this.#tokens.delete(old);
      }
    }
    this.#tokens.set(token, { clientId, scope, expiresAt: now + this.tokenLifetime * 1000 });
    this.counts.tokens_issued += 1;
    return { access_token: token, token_type: 'bearer', expires_in: this.tokenLifetime, scope };
  }

  async #verifyAssertion(assertion) {
    let header;
    let claims;
    try {
      header = decodeProtectedHeader(assertion ?? '');
      claims = decodeJwt(assertion);
    } catch {
      throw invalidClient('client_assertion is not a signed JWT');
    }
    if (!ALGORITHMS.includes(header.alg)) {
      throw invalidClient(`client_assertion alg ${header.alg} is not accepted (${ALGORITHMS.join(', ')})`);
    }
    if (!header.kid) {
      throw invalidClient('client_assertion has no kid');
    }
    const clientId = claims.iss;
    const client = typeof clientId === 'string' ? this.#clients.get(clientId) : undefined;
    if (!client) {
      throw invalidClient('unknown client (iss)');
    }
    const jwk = await this.#publicKey(client, header.kid);
    let payload;
    try {
      const key = await importJWK(jwk, header.alg);
      ({ payload } = await jwtVerify(assertion, key, {
        algorithms: ALGORITHMS,
        issuer: clientId,
        subject: clientId,
        audience: this.tokenUrl,
        requiredClaims: ['exp', 'jti'],
      }));
    } catch (error) {
      throw invalidClient(`client_assertion refused: ${error.message}`);
    }
    if (typeof payload.jti !== 'string' || !payload.jti) {
      throw invalidClient('client_assertion jti must be a non-empty string');
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp > now + MAX_ASSERTION_LIFETIME_S + CLOCK_LEEWAY_S) {
      throw invalidClient('client_assertion exp is more than five minutes ahead');
    }
    // No await from here to the set: two requests with one jti cannot both pass.
    for (const [seen, exp] of this.#seenJti) {
      if (exp < now) {
        this.#seenJti.delete(seen);
      }
    }
    const seenKey = `${clientId} ${payload.jti}`;
    if (this.#seenJti.has(seenKey)) {
      throw invalidClient('client_assertion jti was already used');
    }
    this.#seenJti.set(seenKey, payload.exp);
    return clientId;
  }

  /** The client's key with this kid, refetching a jwks_uri when the kid is unknown (key rotation). */
  async #publicKey(client, kid) {
    const find = () => client.jwks?.keys?.find((key) => key.kid === kid && key.use !== 'enc');
    let jwk = find();
    if (!jwk && client.jwksUri) {
      try {
        const response = await fetch(client.jwksUri, { signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS) });
        if (!response.ok) {
          throw new Error(`HTTP ${response.status}`);
        }
        client.jwks = await response.json();
      } catch (error) {
        throw invalidClient(`could not fetch the client's JWKS: ${error.message}`);
      }
      jwk = find();
    }
    if (!jwk) {
      throw invalidClient(`no key with kid ${JSON.stringify(kid)} in the client's JWKS`);
    }
    return jwk;
  }
}
