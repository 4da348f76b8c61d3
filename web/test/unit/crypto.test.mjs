// web/app/crypto.js against the vectors the server's own code writes
// (web/test/vectors.json, from tests/api/vectors.rs), positive and negative, plus what
// only the browser side has: WebCrypto keys. Node 20 built-ins only:
//   node --test web/test/unit/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  CheckError,
  b64Decode,
  b64Encode,
  b64urlDecode,
  b64urlEncode,
  canonicalBytes,
  entryBytes,
  fingerprint,
  generateSigningKey,
  hexDecode,
  hexEncode,
  keyIdOf,
  leafHash,
  parseStatement,
  parseVerifierKey,
  receiptFile,
  sha256,
  signStatement,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  verifyReceipt,
  verifyStatement,
} from '../../app/crypto.js';

const V = JSON.parse(readFileSync(new URL('../vectors.json', import.meta.url), 'utf8'));
const subtle = globalThis.crypto.subtle;
const text = new TextDecoder();

/** A WebCrypto key pair from a 32-byte seed (RFC 8410 PKCS #8), to reproduce the
 * server's deterministic signatures. Only tests import seeds; the page generates keys. */
async function keyPairFromSeed(seedHex) {
  const pkcs8 = hexDecode(`302e020100300506032b657004220420${seedHex}`);
  const privateKey = await subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  return { privateKey, publicRaw: hexDecode(V.keys.find((k) => k.seed === seedHex)?.public_key ?? '') };
}

function rejectsCheck(promise, check) {
  return assert.rejects(promise, (e) => e instanceof CheckError && (check === undefined || e.check === check));
}

// ---------------------------------------------------------------------------------

test('encodings are strict: one encoding per value', () => {
  const bytes = Uint8Array.from([0xfb, 0xff, 0x01, 0x00]);
  assert.equal(b64urlEncode(bytes), '-_8BAA');
  assert.deepEqual(b64urlDecode('-_8BAA'), bytes);
  assert.equal(b64Encode(bytes), '+/8BAA==');
  assert.deepEqual(b64Decode('+/8BAA=='), bytes);
  assert.deepEqual(b64urlDecode(''), new Uint8Array());
  for (const bad of ['-_8BAA==', '+/8BAA', '-_8BAB', 'A', '-_8B A', 'AA=A']) {
    assert.throws(() => b64urlDecode(bad), CheckError, bad);
  }
  for (const bad of ['+/8BAA', '+/8BAA=', '+/8BAB==', '-_8BAA==', 'AAAA====', '=AAA']) {
    assert.throws(() => b64Decode(bad), CheckError, bad);
  }
  assert.equal(hexEncode(Uint8Array.from([0, 171, 255])), '00abff');
  assert.deepEqual(hexDecode('00abff'), Uint8Array.from([0, 171, 255]));
  for (const bad of ['00ABff', '0', 'zz']) assert.throws(() => hexDecode(bad), CheckError, bad);
});

test('canonical JSON: every vector', () => {
  assert.ok(V.canonical.length >= 10);
  for (const c of V.canonical) {
    if (c.error) {
      assert.throws(() => canonicalBytes(c.input), CheckError, c.name);
    } else {
      const bytes = canonicalBytes(c.input);
      assert.equal(b64urlEncode(bytes), c.canonical_b64url, c.name);
      assert.equal(text.decode(bytes), c.canonical, c.name);
    }
  }
});

test('canonical JSON: what only JavaScript values can hold', () => {
  const s = (v) => text.decode(canonicalBytes(v));
  // RFC 8785 writes −0 as 0 (the server never sees −0: it reads the JSON text "-0" as a float).
  assert.equal(s({ n: -0 }), '{"n":0}');
  assert.equal(s(Object.assign(Object.create(null), { b: 1, a: 2 })), '{"a":2,"b":1}');
  const proto = JSON.parse('{"__proto__":1,"type":"t"}');
  assert.equal(s(proto), '{"__proto__":1,"type":"t"}');
  const cycle = { type: 't' };
  cycle.self = cycle;
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
  const refused = {
    undefined: { type: 't', label: undefined },
    'a Date': { at: new Date(0) },
    'a Map': { m: new Map() },
    'a class instance': { x: new (class X {})() },
    'a BigInt': { n: 1n },
    'a function': { f() {} },
    'a symbol key': { [Symbol('s')]: 1 },
    NaN: { n: NaN },
    Infinity: { n: Infinity },
    'a lone surrogate': { s: '\ud800' },
    'a lone surrogate in a name': { '\udc00': 1 },
    'a cycle': cycle,
    'a sparse array': { a: sparse },
  };
  for (const [name, value] of Object.entries(refused)) {
    assert.throws(() => canonicalBytes(value), CheckError, name);
  }
  // serde_json parses at most 127 levels; a statement nested deeper could not be read.
  const nest = (depth) => {
    let v = [];
    for (let i = 1; i < depth; i++) v = [v];
    return v;
  };
  assert.doesNotThrow(() => canonicalBytes(nest(127)));
  assert.throws(() => canonicalBytes(nest(128)), CheckError);
});

test('statement bytes are read as the server reads them', () => {
  for (const c of V.statement_parsing) {
    const bytes = b64urlDecode(c.bytes_b64url);
    if (c.accepted) {
      assert.doesNotThrow(() => parseStatement(bytes), c.name);
    } else {
      assert.throws(() => parseStatement(bytes), CheckError, c.name);
    }
  }
});

test('key ids', async () => {
  for (const k of V.keys) {
    assert.equal(await keyIdOf(hexDecode(k.public_key)), k.key_id);
    assert.equal(b64urlEncode(hexDecode(k.public_key)), k.public_key_b64url);
  }
});

test('statements: canonical bytes, signatures, entry bytes and leaf hashes', async () => {
  for (const s of V.statements) {
    const bytes = canonicalBytes(s.statement);
    assert.equal(text.decode(bytes), s.canonical, s.name);
    assert.equal(b64urlEncode(bytes), s.canonical_b64url, s.name);
    assert.equal(await keyIdOf(hexDecode(s.public_key)), s.key_id, s.name);
    // Ed25519 is deterministic: WebCrypto with the same seed gives the server's signature.
    const wire = await signStatement(await keyPairFromSeed(s.seed), s.statement);
    assert.deepEqual(wire, s.wire, s.name);
    assert.equal(await verifyStatement(s.wire, hexDecode(s.public_key)), true, s.name);
    const entry = entryBytes(s.wire);
    assert.equal(text.decode(entry), s.entry, s.name);
    assert.equal(hexEncode(await leafHash(entry)), s.leaf_hash, s.name);
  }
});

test('signatures the server refuses are refused', async () => {
  for (const c of V.invalid_signatures) {
    assert.equal(await verifyStatement(c.wire, hexDecode(c.public_key)), false, c.name);
  }
});

test('weak keys are refused, and so are the forgeries they allow', async (t) => {
  const statement = V.statements[0].wire;
  for (const k of V.weak_keys.keys) {
    const raw = hexDecode(k.public_key);
    const wire = { ...statement, key_id: await keyIdOf(raw) };
    assert.equal(await verifyStatement(wire, raw), false, k.public_key);
  }
  let engineAccepts = 0;
  for (const f of V.weak_keys.forgeries) {
    const raw = hexDecode(f.public_key);
    assert.equal(await verifyStatement(f.wire, raw), false, f.public_key);
    // Why the checks are ours: the engine's own verify may well accept these.
    try {
      const key = await subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
      if (await subtle.verify({ name: 'Ed25519' }, key, b64urlDecode(f.wire.signature), b64urlDecode(f.wire.statement))) {
        engineAccepts++;
      }
    } catch {
      // an engine that refuses the key outright
    }
  }
  t.diagnostic(`WebCrypto alone accepts ${engineAccepts} of ${V.weak_keys.forgeries.length} forgeries under weak keys`);
});

test('a small-order R under a strong key is refused', async (t) => {
  // The key holder can make R the identity: S = k·a mod L, so [S]B = [k]A and R' = 0.
  // A cofactorless verifier without verify_strict's R check accepts that.
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const le = (b) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
  const toLe = (n) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
  const s = V.statements[0];
  const seed = hexDecode(s.seed);
  const h = new Uint8Array(await subtle.digest('SHA-512', seed));
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  const a = le(h.subarray(0, 32));
  const A = hexDecode(s.public_key);
  const R = new Uint8Array(32);
  R[0] = 1; // the identity point
  const message = b64urlDecode(s.wire.statement);
  const k = le(new Uint8Array(await subtle.digest('SHA-512', Uint8Array.from([...R, ...A, ...message])))) % L;
  const signature = Uint8Array.from([...R, ...toLe((k * a) % L)]);
  const wire = { ...s.wire, signature: b64urlEncode(signature) };
  assert.equal(await verifyStatement(wire, A), false);
  const key = await subtle.importKey('raw', A, { name: 'Ed25519' }, false, ['verify']);
  t.diagnostic(`WebCrypto alone accepts it: ${await subtle.verify({ name: 'Ed25519' }, key, signature, message)}`);
});

test('wire forms the server refuses are refused', async () => {
  const good = V.statements[0].wire;
  const raw = hexDecode(V.statements[0].public_key);
  const bad = {
    'a padded statement': { ...good, statement: `${good.statement}=` },
    'an upper-case key id': { ...good, key_id: good.key_id.toUpperCase() },
    'a short signature': { ...good, signature: b64urlEncode(new Uint8Array(63)) },
    'an extra member': { ...good, extra: 'x' },
    'a missing member': { statement: good.statement, key_id: good.key_id },
    'non-canonical statement bytes': { ...good, statement: b64urlEncode(new TextEncoder().encode('{"type": "t"}')) },
  };
  for (const [name, wire] of Object.entries(bad)) {
    assert.throws(() => entryBytes(wire), CheckError, name);
    await rejectsCheck(verifyStatement(wire, raw), 'statement');
  }
});

test('Merkle roots, inclusion proofs and consistency proofs of every tree up to 17', async () => {
  const m = V.merkle;
  const leaves = m.leaves.map(hexDecode);
  assert.equal(hexEncode(await leafHash(new TextEncoder().encode('entry 3'))), m.leaves[3]);
  const roots = new Map(m.roots.map((r) => [r.size, b64Decode(r.root)]));
  assert.equal(m.inclusion.length, 153);
  for (const c of m.inclusion) {
    const args = { leafHash: leaves[c.index], index: c.index, treeSize: c.size, proof: c.proof.map(b64Decode), root: roots.get(c.size) };
    assert.equal(await verifyInclusion(args), true, `inclusion ${c.index} in ${c.size}`);
  }
  assert.equal(m.consistency.length, 153);
  for (const c of m.consistency) {
    const args = { oldSize: c.from, newSize: c.to, oldRoot: roots.get(c.from), newRoot: roots.get(c.to), proof: c.proof.map(b64Decode) };
    assert.equal(await verifyConsistency(args), true, `consistency ${c.from} -> ${c.to}`);
  }
  for (const c of m.invalid_inclusion) {
    const args = { leafHash: hexDecode(c.leaf_hash), index: c.index, treeSize: c.size, proof: c.proof.map(b64Decode), root: b64Decode(c.root) };
    assert.equal(await verifyInclusion(args), false, c.name);
  }
  for (const c of m.invalid_consistency) {
    const args = { oldSize: c.from, newSize: c.to, oldRoot: b64Decode(c.old_root), newRoot: b64Decode(c.new_root), proof: c.proof.map(b64Decode) };
    assert.equal(await verifyConsistency(args), false, c.name);
  }
  // Malformed arguments are a failed proof, not an exception.
  assert.equal(await verifyInclusion({ leafHash: leaves[0], index: 0, treeSize: 1, proof: [], root: 'x' }), false);
  assert.equal(await verifyConsistency({ oldSize: 1.5, newSize: 2, oldRoot: leaves[0], newRoot: leaves[1], proof: [] }), false);
});

test('signed checkpoints', async () => {
  const c = V.checkpoints;
  assert.equal(await fingerprint(c.log_key), c.fingerprint);
  assert.match(c.fingerprint, /^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
  for (const k of c.cases) {
    if (k.valid) {
      const cp = await verifyCheckpoint(k.note, k.log_key);
      assert.deepEqual({ origin: cp.origin, size: cp.size, root: b64Encode(cp.root) }, { origin: k.origin, size: k.size, root: k.root }, k.name);
    } else {
      await rejectsCheck(verifyCheckpoint(k.note, k.log_key), 'checkpoint-signature');
    }
  }
});

test('verifier keys', async () => {
  for (const k of V.verifier_keys) {
    if (k.valid) {
      const key = parseVerifierKey(k.log_key);
      assert.equal(key.name, k.name_part, k.name);
      assert.equal(hexEncode(key.keyHash), k.key_hash, k.name);
      assert.equal(hexEncode(key.publicRaw), k.public_key, k.name);
      assert.equal(await fingerprint(k.log_key), k.fingerprint, k.name);
    } else {
      // Some faults show only once the key id is hashed, which is asynchronous.
      await rejectsCheck(fingerprint(k.log_key), 'log-key');
    }
  }
});

/** The page's checks, named as the CLI names them, on a receipt file. */
async function pageChecks(file, trustedLogKey, extra = {}) {
  const result = await verifyReceipt({
    wire: file.entry,
    receipt: file.receipt,
    logKey: trustedLogKey,
    publicKey: file.public_key === undefined ? undefined : b64urlDecode(file.public_key),
    ...extra,
  });
  assert.equal(result.ok, result.checks.every((c) => c.ok));
  for (const c of result.checks) assert.equal(typeof c.detail, 'string');
  return result;
}

test('receipts: the page fails exactly the checks `mandaat receipt verify` fails', async () => {
  for (const c of V.receipts.cases) {
    const result = await pageChecks(c.file, c.trusted_log_key);
    const got = Object.fromEntries(result.checks.map((k) => [k.name, k.ok ? 'passed' : 'failed']));
    // The page pins the log key itself; it has no file whose key could differ.
    got['log-key'] = c.file.log_key === c.trusted_log_key ? 'passed' : 'failed';
    got['statement-signature'] ??= 'not-checked';
    assert.deepEqual(got, c.expected, c.name);
    if (result.ok) {
      assert.equal(result.checkpoint.size, c.file.receipt.tree_size, c.name);
      assert.equal(b64Encode(result.checkpoint.root), c.file.receipt.root, c.name);
    }
  }
});

test('receipts: consistency with the checkpoint this browser saw before', async () => {
  const { earlier, cases } = V.receipts;
  const file = cases[1].file;
  const key = cases[1].trusted_log_key;
  const before = await verifyCheckpoint(earlier.checkpoint, key);
  const consistency = async (previous, proof) => {
    const r = await pageChecks(file, key, { previous, consistencyProof: proof });
    return r.checks.find((k) => k.name === 'consistency');
  };
  assert.equal((await consistency({ size: before.size, root: before.root }, earlier.consistency_proof)).ok, true);
  // The root may come as base64 (as the page stores it) and the proof as bytes.
  assert.equal((await consistency({ size: earlier.size, root: earlier.root }, earlier.consistency_proof.map(b64Decode))).ok, true);
  // The same checkpoint again: equal sizes, equal roots, no proof.
  const now = { size: file.receipt.tree_size, root: file.receipt.root };
  assert.equal((await consistency(now, [])).ok, true);
  // A history that differs from what this browser saw is caught.
  const forked = b64Encode(b64Decode(earlier.root).map((b, i) => (i === 0 ? b ^ 1 : b)));
  const failed = await consistency({ size: earlier.size, root: forked }, earlier.consistency_proof);
  assert.equal(failed.ok, false);
  assert.match(failed.detail, /not consistent/);
  assert.equal((await consistency({ size: earlier.size, root: earlier.root }, [])).ok, false);
  // A later checkpoint seen before, this receipt's older: the proof runs the other way.
  const r = await pageChecks(file, key, { previous: now, consistencyProof: [] });
  assert.equal(r.ok, true);
});

test('verifyReceipt reports garbage as failures and never throws for it', async () => {
  const key = V.receipts.log_key;
  for (const [wire, receipt] of [[{}, {}], ['x', null], [V.statements[2].wire, { checkpoint: 42, inclusion_proof: 'no' }]]) {
    const r = await verifyReceipt({ wire, receipt, logKey: key });
    assert.equal(r.ok, false);
    assert.deepEqual(r.checks.map((c) => c.name), ['leaf-hash', 'checkpoint-signature', 'inclusion']);
    assert.ok(r.checks.every((c) => !c.ok));
    assert.equal(r.checkpoint, null);
  }
  const r = await verifyReceipt({ wire: V.statements[0].wire, receipt: V.receipts.cases[0].file.receipt, logKey: 'not a key' });
  assert.equal(r.checks.find((c) => c.name === 'checkpoint-signature').ok, false);
  await assert.rejects(verifyReceipt(), TypeError);
});

test('receiptFile writes the contract format', async () => {
  const c = V.receipts.cases[1];
  const file = receiptFile({
    wire: c.file.entry,
    receipt: c.file.receipt,
    logKey: `${c.file.log_key}\n`,
    publicKey: b64urlDecode(c.file.public_key),
  });
  assert.deepEqual(file, c.file);
  assert.deepEqual(Object.keys(receiptFile({ wire: c.file.entry, receipt: c.file.receipt, logKey: c.file.log_key })), ['format', 'log_key', 'entry', 'receipt']);
});

test('a WebCrypto key made here: non-extractable, signs what the server accepts', async () => {
  const pair = await generateSigningKey();
  assert.equal(pair.privateKey.extractable, false);
  for (const format of ['pkcs8', 'jwk', 'raw']) {
    await assert.rejects(subtle.exportKey(format, pair.privateKey), undefined, format);
  }
  assert.equal(pair.publicRaw.length, 32);
  assert.equal(pair.keyId, await keyIdOf(pair.publicRaw));
  assert.equal(pair.keyId, hexEncode(await sha256(pair.publicRaw)));

  const statement = {
    type: 'mandaat.key.v1',
    member: '0b0e6a6e-54c5-4c1c-9a43-2f1e0d5e7a10',
    public_key: b64urlEncode(pair.publicRaw),
    label: 'deze laptop',
  };
  const wire = await signStatement(pair, statement);
  assert.deepEqual(Object.keys(wire).sort(), ['key_id', 'signature', 'statement']);
  assert.equal(wire.key_id, pair.keyId);
  assert.deepEqual(b64urlDecode(wire.statement), canonicalBytes(statement));
  assert.equal(await verifyStatement(wire, pair.publicRaw), true);
  const other = await generateSigningKey();
  assert.equal(await verifyStatement(wire, other.publicRaw), false);
  const changed = { ...wire, statement: b64urlEncode(canonicalBytes({ ...statement, label: 'andere laptop' })) };
  assert.equal(await verifyStatement(changed, pair.publicRaw), false);

  // What signStatement refuses before signing.
  await rejectsCheck(signStatement(pair, { member: 'x' }), 'statement');
  await rejectsCheck(signStatement(pair, { type: 't', n: 0.5 }), 'statement');
  await rejectsCheck(signStatement(pair, { type: 't', n: null }), 'statement');
  await rejectsCheck(signStatement(pair, { type: 't', s: 'x'.repeat(64 * 1024) }), 'statement');
  await assert.rejects(signStatement({ ...pair, keyId: other.keyId }, statement));
  await assert.rejects(signStatement({ ...pair, publicRaw: other.publicRaw, keyId: undefined }, statement));
});
