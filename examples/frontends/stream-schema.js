// The collections of GET /v1/types/{type}/schema as @durable-streams/state wants them:
// each collection's JSON Schema made a Standard Schema validator by `fromJSONSchema`
// (zod 4's z.fromJSONSchema). It imports nothing, so any page or script can pass in its
// own copies of the two packages.
export function collectionsOf(served, fromJSONSchema) {
  return Object.fromEntries(
    Object.entries(served.collections).map(([name, { type, primaryKey, schema }]) => [
      name,
      { type, primaryKey, schema: fromJSONSchema(schema) },
    ]),
  );
}

// Where the stream of entity `id` is, on `server`.
export function streamUrl(server, served, id) {
  return `${server}${served.stream.replace("{id}", encodeURIComponent(id))}`;
}
