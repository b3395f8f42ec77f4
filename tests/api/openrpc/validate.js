// Validates an OpenRPC document (a file path argument, or stdin) against the official
// @open-rpc/meta-schema with Ajv; also checks hero_logic's own conventions. Exit 0 = valid.
'use strict';
const fs = require('fs');
const Ajv = require('ajv');
const openrpcMeta = require('@open-rpc/meta-schema');
const jsonSchemaMeta = require('@json-schema-tools/meta-schema');

// Both schemas name a custom "$schema" dialect URI (meta.json-schema.tools) that Ajv cannot
// resolve as a dialect; their bodies are draft-07, Ajv's default. The OpenRPC meta-schema $refs
// the JSON Schema meta-schema by that URI, so it is registered under it.
function plain(s) {
  const copy = JSON.parse(JSON.stringify(s.default || s));
  delete copy.$schema;
  return copy;
}
const schema = plain(openrpcMeta);
const jsonSchema = plain(jsonSchemaMeta);

const text = fs.readFileSync(process.argv[2] || 0, 'utf8');
let doc;
try {
  doc = JSON.parse(text);
} catch (e) {
  console.error('document is not JSON: ' + e.message);
  process.exit(1);
}

const ajv = new Ajv({strict: false, allErrors: true, validateFormats: false, logger: false});
ajv.addSchema(jsonSchema, "https://meta.json-schema.tools");
const validate = ajv.compile(schema);
const problems = [];
if (!validate(doc)) {
  for (const e of validate.errors) problems.push(`${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}
if (doc.openrpc !== '1.2.6') problems.push(`openrpc is ${doc.openrpc}, want 1.2.6`);
const names = (doc.methods || []).map((m) => m.name);
if (names.includes('rpc.discover')) problems.push('rpc.discover must not be listed (OpenRPC convention)');
if (new Set(names).size !== names.length) problems.push('method names are not unique');
const minMethods = Number(process.env.OPENRPC_MIN_METHODS || 1);
if (names.length < minMethods) problems.push(`only ${names.length} methods, want >= ${minMethods}`);

if (problems.length) {
  console.error('OpenRPC document is INVALID:\n  ' + problems.join('\n  '));
  process.exit(1);
}
console.log(`OpenRPC document is valid: ${names.length} methods (${names.join(', ')})`);
