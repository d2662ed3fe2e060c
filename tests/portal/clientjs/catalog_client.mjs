// Drives the real @backstage/catalog-client against an idpbuilder catalog API and prints one JSON object
// with what each call returned (or the error it raised), for tests/portal/test_catalog_api_clientjs.py.
// Environment: CATALOG_BASE_URL (e.g. http://127.0.0.1:8080/api/catalog), CATALOG_TOKEN, CATALOG_FILE.
import { CatalogClient, CATALOG_FILTER_EXISTS } from '@backstage/catalog-client';

const baseUrl = process.env.CATALOG_BASE_URL;
const token = process.env.CATALOG_TOKEN;
const catalogFile = process.env.CATALOG_FILE;

const discoveryApi = { getBaseUrl: async () => baseUrl };
const fetchApi = {
  fetch: (input, init = {}) =>
    fetch(input, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } }),
};
const client = new CatalogClient({ discoveryApi, fetchApi });
const names = items => items.map(e => (e ? e.metadata.name : null));

async function failure(call) {
  try {
    await call();
    return null;
  } catch (error) {
    return { name: error.name, status: error.response?.status, cause: error.body?.error ?? null };
  }
}

const out = {};

out.getEntities = (await client.getEntities({
  filter: [{ kind: 'component' }, { kind: 'system' }],
  fields: ['kind', 'metadata.name'],
  order: { field: 'metadata.name', order: 'desc' },
})).items;
out.getEntitiesExists = names((await client.getEntities({
  filter: { 'metadata.tags.java': CATALOG_FILTER_EXISTS },
})).items);
out.getEntitiesPage = names((await client.getEntities({ limit: 2, offset: 1, order: { field: 'metadata.name', order: 'asc' } })).items);

out.getEntitiesByRefs = (await client.getEntitiesByRefs({
  entityRefs: ['system:default/shop', 'component:default/missing', 'component:default/petstore'],
  fields: ['metadata.name', 'relations'],
})).items;

const first = await client.queryEntities({
  filter: { kind: ['component', 'system', 'group'] },
  orderFields: { field: 'metadata.name', order: 'asc' },
  limit: 2,
});
const second = await client.queryEntities({ cursor: first.pageInfo.nextCursor, limit: 2 });
const previous = await client.queryEntities({ cursor: second.pageInfo.prevCursor, limit: 2 });
out.queryEntities = {
  first: names(first.items), firstTotal: first.totalItems, firstPageInfo: Object.keys(first.pageInfo),
  second: names(second.items), secondPageInfo: Object.keys(second.pageInfo), previous: names(previous.items),
};
out.queryEntitiesFullText = names((await client.queryEntities({
  fullTextFilter: { term: 'PET', fields: ['metadata.name', 'metadata.title'] },
})).items);

const pet = await client.getEntityByRef('component:default/petstore');
out.getEntityByRef = { name: pet.metadata.name, relations: pet.relations, hasUid: typeof pet.metadata.uid };
out.getEntityByRefMissing = (await client.getEntityByRef('component:default/missing')) ?? 'undefined';
out.getEntityAncestors = (await client.getEntityAncestors({ entityRef: 'component:default/petstore' })).rootEntityRef;

out.getEntityFacets = await client.getEntityFacets({ facets: ['kind', 'spec.type'], filter: { kind: ['component', 'system'] } });

const dryRun = await client.addLocation({ type: 'file', target: catalogFile, dryRun: true });
out.addLocationDryRun = { exists: dryRun.exists, location: dryRun.location, entities: names(dryRun.entities) };
const added = await client.addLocation({ type: 'file', target: catalogFile });
out.addLocation = added.location;
out.addLocationAgain = await failure(() => client.addLocation({ type: 'file', target: catalogFile }));
out.getLocationById = await client.getLocationById(added.location.id);
out.getLocationByIdMissing = (await client.getLocationById('no-such-id')) ?? 'undefined';
out.getLocationByEntity = await client.getLocationByEntity('component:default/petstore');

const good = {
  apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: 'fine' },
  spec: { type: 'service', lifecycle: 'production', owner: 'team-a' },
};
out.validateEntity = await client.validateEntity(good, 'url:https://git.example.com/org/repo/blob/main/catalog-info.yaml');
out.validateEntityInvalid = await client.validateEntity(
  { ...good, spec: { type: 'service' } }, 'url:https://git.example.com/org/repo/blob/main/catalog-info.yaml');

await client.refreshEntity('component:default/petstore');
out.refreshEntity = 'ok';
out.refreshEntityMissing = await failure(() => client.refreshEntity('component:default/missing'));

console.log(JSON.stringify(out));
