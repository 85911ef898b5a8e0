// Kibana Fleet's package verification, with Fleet's own libraries
// (openpgp 5, node-fetch 2), as x-pack/plugins/fleet/server/services/epm/
// packages/package_verification.ts does it: the key file is read once with
// readKey (as Kibana does at start), each zip and its .sig are fetched over
// HTTP, and a package is verified when signatures[0].verified resolves.
//
// node verify.mjs NODE_MODULES KEYFILE ZIP_URL...
// prints one JSON document: {"key_error": "...", "key_id": "...",
// "results": [{"url", "verified", "error"}]}
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const [modules, keyFile, ...urls] = process.argv.slice(2);
const require = createRequire(join(modules, 'noop.js'));
const openpgp = require('openpgp');
const fetch = require('node-fetch');

const out = { results: [] };
let key;
try {
  const buffer = await readFile(keyFile);
  key = await openpgp.readKey({ armoredKey: buffer.toString() });
  out.key_id = key.getKeyID().toHex().toUpperCase();
} catch (e) {
  out.key_error = String(e && e.message ? e.message : e);
}

async function get(url, binary) {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return binary ? new Uint8Array(await res.arrayBuffer()) : await res.text();
}

for (const url of urls) {
  const r = { url, verified: false };
  try {
    if (!key) throw new Error('no verification key: ' + out.key_error);
    const pkgArchiveBuffer = await get(url, true);
    const pkgArchiveSignature = await get(url + '.sig', false);
    const signature = await openpgp.readSignature({ armoredSignature: pkgArchiveSignature });
    const message = await openpgp.createMessage({ binary: pkgArchiveBuffer });
    const verificationResult = await openpgp.verify({ verificationKeys: key, signature, message });
    const signatureVerificationResult = verificationResult.signatures[0];
    r.signing_key_id = signatureVerificationResult.keyID.toHex().toUpperCase();
    r.verified = await signatureVerificationResult.verified;
  } catch (e) {
    r.error = String(e && e.message ? e.message : e);
  }
  out.results.push(r);
}
process.stdout.write(JSON.stringify(out) + '\n');
