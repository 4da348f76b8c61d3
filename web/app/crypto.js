// crypto.js — the browser's cryptography: RFC 8785 canonical JSON, Ed25519 signed
// statements (docs/signing.md), and checking receipts of the transparency log
// (docs/audit.md): RFC 9162 Merkle proofs and C2SP signed-note checkpoints.
//
// It must accept exactly what the server accepts; web/test/vectors.json, written by the
// server's own code (tests/api/vectors.rs), is the judge, and web/test/unit/ runs this
// module against it in Node 20 (`node --test web/test/unit/`). Plain ES module; it
// uses only WebCrypto (`crypto.subtle`: Ed25519 and SHA-256) and the vendored RFC 8785
// serialiser.
//
// Ed25519 verification, compared with ed25519-dalek's `verify_strict` on the server
// (signing.md §4). WebCrypto's Ed25519 verify (BoringSSL in Chromium, OpenSSL in Node)
// checks the cofactorless equation [S]B = R + [k]A by comparing the encoding of the
// computed R with the signature's R bytes, and refuses S ≥ L; it does NOT refuse
// small-order keys or R (Node accepts a "signature" under the identity key on any
// message; a vector checks that we refuse it). So before WebCrypto sees a signature,
// `verifyEd25519` checks here, independently of the engine:
//   - the key is 32 bytes, a canonical encoding (y < p), a point on the curve, and not of
//     small order;
//   - R is a canonical encoding and not of small order;
//   - S < L.
// With those, WebCrypto's answer is verify_strict's. One deliberate difference: the
// server's note verifier (transparency/note.rs) takes a log key in a NON-canonical
// encoding of a large-order point, which verify_strict would then use; we refuse such a
// key. The server never makes one (a key derived from a seed is always canonical), and
// refusing is the safe side.

import canonicalize from '../vendor/canonicalize.mjs';

const subtle = globalThis.crypto.subtle;
const ED25519 = { name: 'Ed25519' };

/** Largest statement a client may send, in canonical bytes (statement.rs). */
export const MAX_STATEMENT_BYTES = 64 * 1024;
/** serde_json refuses JSON nested 128 deep; so a statement holds at most 127 levels. */
export const MAX_DEPTH = 127;

/** A check that did not pass. `check` names it: 'statement', 'log-key',
 * 'checkpoint-signature', 'leaf-hash', 'inclusion', 'consistency'. */
export class CheckError extends Error {
  constructor(check, message) {
    super(message);
    this.name = 'CheckError';
    this.check = check;
  }
}

// ------------------------------------------------------------------------------------
// Encodings. Decoders are strict, like the server's: each value has one encoding, so
// padding where there should be none, stray characters and non-zero trailing bits are
// all refused (decode, re-encode, compare).

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function bytesOf(value, what) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(`${what} must be a Uint8Array`);
}

function encode64(bytes, alphabet, pad) {
  bytes = bytesOf(bytes, 'bytes');
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + alphabet[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + (pad ? '==' : '');
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + (pad ? '=' : '');
  }
  return out;
}

function decode64(text, alphabet, pad, what) {
  if (typeof text !== 'string') throw new CheckError('encoding', `${what} must be a string`);
  const body = pad ? text.replace(/={1,2}$/, '') : text;
  const out = new Uint8Array(Math.floor((body.length * 6) / 8));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of body) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new CheckError('encoding', `${what} is not ${pad ? 'padded base64' : 'unpadded base64url'}`);
    acc = ((acc << 6) | v) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (encode64(out, alphabet, pad) !== text) {
    throw new CheckError('encoding', `${what} is not canonical ${pad ? 'padded base64' : 'unpadded base64url'}`);
  }
  return out;
}

/** RFC 4648 §5 base64url without padding. */
export function b64urlEncode(bytes) {
  return encode64(bytes, B64URL, false);
}

/** Decodes unpadded base64url; refuses padding and any non-canonical form. */
export function b64urlDecode(text) {
  return decode64(text, B64URL, false, 'value');
}

/** RFC 4648 §4 base64 with padding, as in checkpoints and proofs. */
export function b64Encode(bytes) {
  return encode64(bytes, B64, true);
}

/** Decodes padded base64; refuses missing padding and any non-canonical form. */
export function b64Decode(text) {
  return decode64(text, B64, true, 'value');
}

/** Lowercase hex. */
export function hexEncode(bytes) {
  return Array.from(bytesOf(bytes, 'bytes'), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Decodes lowercase hex only (the server writes only lowercase; one value, one string). */
export function hexDecode(text) {
  if (typeof text !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(text)) {
    throw new CheckError('encoding', 'value is not lowercase hex');
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const utf8 = new TextEncoder();
// fatal: invalid UTF-8 is an error, as in serde_json; ignoreBOM: a BOM stays in the
// text, so JSON.parse refuses it as serde_json does.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// ------------------------------------------------------------------------------------
// Canonical JSON (signing.md §1–2).

/**
 * Copies `value` as plain JSON data, refusing what a statement may not hold: floats,
 * integers outside ±(2^53−1), null, undefined (leave the member out instead of setting
 * it to undefined), lone surrogates, non-plain objects (Date, Map, class instances),
 * symbols, functions, cycles and nesting deeper than the server parses. The copy is
 * what gets serialised, so nothing can change between the check and the bytes.
 */
function plainCopy(value, path, depth, seen) {
  switch (typeof value) {
    case 'string':
      if (/\p{Cs}/u.test(value)) throw new CheckError('statement', `lone surrogate in a string at ${path}`);
      return value;
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isInteger(value)) {
        throw new CheckError('statement', `number at ${path} is not an integer; signed statements hold no floats`);
      }
      if (!Number.isSafeInteger(value)) {
        throw new CheckError('statement', `integer at ${path} is outside ±(2^53−1)`);
      }
      // RFC 8785 writes −0 as 0; make that explicit.
      return value === 0 ? 0 : value;
    case 'object': {
      if (value === null) throw new CheckError('statement', `null at ${path}; leave the member out instead`);
      if (depth >= MAX_DEPTH) throw new CheckError('statement', `nested deeper than ${MAX_DEPTH} levels at ${path}`);
      if (seen.has(value)) throw new CheckError('statement', `cycle at ${path}`);
      seen.add(value);
      let copy;
      if (Array.isArray(value)) {
        copy = [];
        // An index loop, so a hole in a sparse array is seen (as undefined) and refused.
        for (let i = 0; i < value.length; i++) copy.push(plainCopy(value[i], `${path}[${i}]`, depth + 1, seen));
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          throw new CheckError('statement', `value at ${path} is not a plain object`);
        }
        if (Object.getOwnPropertySymbols(value).length > 0) {
          throw new CheckError('statement', `object at ${path} has symbol keys`);
        }
        // A prototype-less copy, so a member named "__proto__" stays a member.
        copy = Object.create(null);
        for (const key of Object.keys(value)) {
          if (/\p{Cs}/u.test(key)) throw new CheckError('statement', `lone surrogate in a member name at ${path}`);
          copy[key] = plainCopy(value[key], `${path}.${key}`, depth + 1, seen);
        }
      }
      seen.delete(value);
      return copy;
    }
    default:
      throw new CheckError('statement', `${typeof value} at ${path} is not JSON; leave the member out instead`);
  }
}

/**
 * The RFC 8785 (JCS) canonical UTF-8 bytes of `value`, byte for byte what the server's
 * `canonical_bytes` gives. Throws a CheckError('statement') for anything a statement
 * may not hold (see plainCopy).
 */
export function canonicalBytes(value) {
  // JCS itself (member order by UTF-16 code units, escapes, number form) is the
  // vendored implementation's; the checks around it are ours.
  return utf8.encode(canonicalize(plainCopy(value, '$', 0, new Set())));
}

/**
 * Reads statement bytes as the server does (statement.rs `parse_canonical` plus the
 * `type` check of `SignedStatement::from_parts`): UTF-8 JSON, an object with a string
 * `type`, holding no float, unsafe integer or null, and already in canonical form.
 * Returns the parsed object; throws CheckError('statement').
 */
export function parseStatement(bytes) {
  bytes = bytesOf(bytes, 'statement bytes');
  let value;
  try {
    value = JSON.parse(utf8Strict.decode(bytes));
  } catch (e) {
    throw new CheckError('statement', `statement is not UTF-8 JSON: ${e.message}`);
  }
  // Re-encoding and comparing catches every deviation at once: whitespace, member
  // order, escapes, duplicate members (JSON.parse keeps one), number spelling
  // (1.0, 1e2 and -0 read as integers but do not re-encode to the same bytes).
  if (!equalBytes(canonicalBytes(value), bytes)) {
    throw new CheckError('statement', 'statement bytes are not in RFC 8785 canonical form');
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new CheckError('statement', 'statement must be a JSON object');
  }
  if (typeof value.type !== 'string') throw new CheckError('statement', 'statement has no string member "type"');
  return value;
}

// ------------------------------------------------------------------------------------
// Hashes, keys and Ed25519.

/** SHA-256 via WebCrypto. */
export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bytesOf(bytes, 'bytes')));
}

/** Key id: lowercase hex SHA-256 of the 32 raw public-key bytes (signing.md §3). */
export async function keyIdOf(publicKeyRaw) {
  const raw = bytesOf(publicKeyRaw, 'public key');
  if (raw.length !== 32) throw new CheckError('statement', 'an Ed25519 public key is 32 bytes');
  return hexEncode(await sha256(raw));
}

// Curve constants (RFC 8032 §5.1), as BigInt.
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n; // −121665/121666 mod p
// The 8 points of order dividing 8 have these y: 1 (the identity), p−1 (order 2),
// 0 (the two of order 4), and ±Y8 (the four of order 8). A point and its negation share
// y, so y alone decides. tests/api/vectors.rs checks with ed25519-dalek that every
// encoding with these y is refused as weak (web/test/vectors.json "weak_keys").
const Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, Y8, P - Y8]);

function littleEndian(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

function modPow(base, exp, mod) {
  let result = 1n;
  base %= mod;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % mod;
    base = (base * base) % mod;
    exp >>= 1n;
  }
  return result;
}

/** The y-coordinate bits of an encoded point (the top bit is x's sign). */
function yOf(encoded) {
  return littleEndian(encoded) & (2n ** 255n - 1n);
}

/** Whether y (mod p) is the y of a curve point: x² = (y²−1)/(d·y²+1) has a root
 * (Euler's criterion). Like ed25519-dalek's decompression, which reduces y mod p. */
function isOnCurve(y) {
  y %= P;
  const u = (((y * y - 1n) % P) + P) % P;
  const v = (D * y * y + 1n) % P; // never 0: −1/d is not a square
  const x2 = (u * modPow(v, P - 2n, P)) % P;
  return x2 === 0n || modPow(x2, (P - 1n) / 2n, P) === 1n;
}

/** A key verify_strict accepts and we rely on: canonical, on the curve, not weak. */
function isStrictPublicKey(raw) {
  const y = yOf(raw);
  return y < P && isOnCurve(y) && !SMALL_ORDER_Y.has(y);
}

/**
 * Ed25519 verification with exactly the outcome of ed25519-dalek's verify_strict, for
 * canonically encoded keys (see the top of this file). Resolves to a boolean.
 */
async function verifyEd25519(publicRaw, message, signature) {
  if (publicRaw.length !== 32 || signature.length !== 64) return false;
  if (!isStrictPublicKey(publicRaw)) return false;
  const rY = yOf(signature.subarray(0, 32));
  // A non-canonical R never equals the computed R's encoding anyway; say so here too.
  if (rY >= P || SMALL_ORDER_Y.has(rY)) return false;
  if (littleEndian(signature.subarray(32)) >= L) return false;
  let key;
  try {
    key = await subtle.importKey('raw', publicRaw, ED25519, false, ['verify']);
    return await subtle.verify(ED25519, key, signature, message);
  } catch {
    return false;
  }
}

/**
 * A new signing key for this browser: Ed25519 via WebCrypto, the private key
 * non-extractable (it can sign, but no script can read it out).
 */
export async function generateSigningKey() {
  const { privateKey, publicKey } = await subtle.generateKey(ED25519, false, ['sign', 'verify']);
  if (privateKey.extractable) throw new Error('WebCrypto made an extractable private key');
  const publicRaw = new Uint8Array(await subtle.exportKey('raw', publicKey));
  // Practically impossible for a random key, but the server would refuse it.
  if (publicRaw.length !== 32 || !isStrictPublicKey(publicRaw)) throw new Error('generated public key is not valid');
  return { privateKey, publicKey, publicRaw, keyId: await keyIdOf(publicRaw) };
}

/**
 * Signs a statement object: its canonical bytes, signed with the key pair's private key,
 * in the wire form {statement, key_id, signature} (signing.md §5). `keyPair` needs
 * `privateKey` (a CryptoKey) and `publicRaw` (32 bytes); a `keyId` given must match.
 * The signature is verified again before it is returned, so a key pair whose halves do
 * not belong together is caught here and not by the server.
 */
export async function signStatement(keyPair, statementObject) {
  const publicRaw = bytesOf(keyPair?.publicRaw, 'keyPair.publicRaw');
  const keyId = await keyIdOf(publicRaw);
  if (keyPair.keyId !== undefined && keyPair.keyId !== keyId) {
    throw new Error('keyPair.keyId is not the id of keyPair.publicRaw');
  }
  if (typeof statementObject !== 'object' || statementObject === null || Array.isArray(statementObject)) {
    throw new CheckError('statement', 'statement must be a JSON object');
  }
  if (typeof statementObject.type !== 'string') throw new CheckError('statement', 'statement has no string member "type"');
  const bytes = canonicalBytes(statementObject);
  if (bytes.length > MAX_STATEMENT_BYTES) {
    throw new CheckError('statement', `statement is larger than ${MAX_STATEMENT_BYTES} bytes`);
  }
  const signature = new Uint8Array(await subtle.sign(ED25519, keyPair.privateKey, bytes));
  if (!(await verifyEd25519(publicRaw, bytes, signature))) {
    throw new Error('the signature does not verify under keyPair.publicRaw');
  }
  return { statement: b64urlEncode(bytes), key_id: keyId, signature: b64urlEncode(signature) };
}

/**
 * Reads a wire form as the server does (`SignedStatement::from_wire`): exactly the
 * three string members; statement bytes unpadded base64url, at most
 * MAX_STATEMENT_BYTES, canonical (parseStatement); key_id 64 lowercase hex; signature
 * 64 bytes. Throws CheckError('statement').
 */
function readWire(wire) {
  if (typeof wire !== 'object' || wire === null || Array.isArray(wire)) {
    throw new CheckError('statement', 'a signed statement is an object {statement, key_id, signature}');
  }
  const names = Object.keys(wire).sort().join(',');
  if (names !== 'key_id,signature,statement') {
    throw new CheckError('statement', `a signed statement has exactly the members statement, key_id, signature (got ${names})`);
  }
  const decode = (name) => {
    try {
      return b64urlDecode(wire[name]);
    } catch {
      throw new CheckError('statement', `${name} is not valid unpadded base64url`);
    }
  };
  const bytes = decode('statement');
  if (bytes.length > MAX_STATEMENT_BYTES) {
    throw new CheckError('statement', `statement is larger than ${MAX_STATEMENT_BYTES} bytes`);
  }
  const signature = decode('signature');
  if (signature.length !== 64) throw new CheckError('statement', 'signature must be 64 bytes');
  if (typeof wire.key_id !== 'string' || !/^[0-9a-f]{64}$/.test(wire.key_id)) {
    throw new CheckError('statement', 'key_id must be 64 lowercase hex characters');
  }
  const body = parseStatement(bytes);
  return { bytes, body, keyId: wire.key_id, signature };
}

/**
 * Verifies a wire form's signature under `publicRaw` (32 bytes), as the server's
 * `SignedStatement::verify`: the key must be the one `key_id` names, and the signature
 * must pass strict verification. Resolves to a boolean; throws CheckError('statement')
 * when the wire form itself is malformed.
 */
export async function verifyStatement(wire, publicRaw) {
  const { bytes, keyId, signature } = readWire(wire);
  const raw = bytesOf(publicRaw, 'public key');
  if (raw.length !== 32 || (await keyIdOf(raw)) !== keyId) return false;
  return verifyEd25519(raw, bytes, signature);
}

/**
 * The entry bytes the log commits to (audit.md §1): the canonical JSON of the wire
 * form, {"key_id":…,"signature":…,"statement":…}. Checks the wire form first, as the
 * server does before it accepts a statement; throws CheckError('statement').
 */
export function entryBytes(wire) {
  readWire(wire);
  return canonicalBytes({ key_id: wire.key_id, signature: wire.signature, statement: wire.statement });
}

/** RFC 9162 leaf hash: SHA-256(0x00 ‖ entry bytes). */
export async function leafHash(entry) {
  return sha256(concat([0], bytesOf(entry, 'entry bytes')));
}

// ------------------------------------------------------------------------------------
// RFC 9162 Merkle proofs. Indexes are BigInt inside, because JavaScript's bit operators
// work on 32 bits and tree sizes may not.

function nodeHash(left, right) {
  return sha256(concat([1], left, right));
}

function isHash(h) {
  return h instanceof Uint8Array && h.length === 32;
}

function isSize(n) {
  return Number.isSafeInteger(n) && n >= 0;
}

/** RFC 9162 §2.1.3.2; resolves to null when the proof holds, else the reason. */
async function inclusionFailure({ leafHash, index, treeSize, proof, root }) {
  if (!isSize(index) || !isSize(treeSize)) return 'index and tree size must be non-negative integers';
  if (!isHash(leafHash) || !isHash(root) || !Array.isArray(proof) || !proof.every(isHash)) {
    return 'leaf hash, root and proof hashes must be 32 bytes each';
  }
  if (index >= treeSize) return `leaf index ${index} is not below tree size ${treeSize}`;
  let fn = BigInt(index);
  let sn = BigInt(treeSize) - 1n;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0n) return 'the proof has the wrong number of hashes';
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      // A right-edge node without a sibling moves up unchanged.
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) return 'the proof has the wrong number of hashes';
  if (!equalBytes(r, root)) return 'the proof does not lead to the root';
  return null;
}

/**
 * RFC 9162 §2.1.3.2 inclusion proof: `leafHash` (32 bytes) is leaf `index` of the tree
 * of `treeSize` leaves with `root`; `proof` is an array of 32-byte hashes, leaf to root.
 * Resolves to a boolean.
 */
export async function verifyInclusion(args) {
  return (await inclusionFailure(args)) === null;
}

/**
 * RFC 9162 §2.1.4.2; resolves to null when the proof holds, else the reason. Equal sizes
 * need equal roots and an empty proof (as ct-merkle on the server and Go's
 * transparency-dev/merkle have it; the RFC's algorithm alone would fail every empty
 * proof). An old size 0 is refused, as the server does.
 */
async function consistencyFailure({ oldSize, newSize, oldRoot, newRoot, proof }) {
  if (!isSize(oldSize) || !isSize(newSize)) return 'tree sizes must be non-negative integers';
  if (!isHash(oldRoot) || !isHash(newRoot) || !Array.isArray(proof) || !proof.every(isHash)) {
    return 'roots and proof hashes must be 32 bytes each';
  }
  if (oldSize === 0 || oldSize > newSize) return `consistency needs 0 < old size <= new size, got ${oldSize} -> ${newSize}`;
  if (oldSize === newSize) {
    if (proof.length !== 0) return 'the proof has the wrong number of hashes';
    return equalBytes(oldRoot, newRoot) ? null : 'the trees have the same size but different roots';
  }
  if (proof.length === 0) return 'the proof has the wrong number of hashes';
  // Step 2: when the old tree is a perfect subtree, its root is the first node.
  const m = BigInt(oldSize);
  const path = (m & (m - 1n)) === 0n ? [oldRoot, ...proof] : proof;
  let fn = m - 1n;
  let sn = BigInt(newSize) - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return 'the proof has the wrong number of hashes';
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) return 'the proof has the wrong number of hashes';
  if (!equalBytes(fr, oldRoot) || !equalBytes(sr, newRoot)) return 'the proof does not join the two roots';
  return null;
}

/**
 * RFC 9162 §2.1.4.2 consistency proof: the tree of `oldSize` leaves with `oldRoot` is a
 * prefix of the tree of `newSize` leaves with `newRoot`. Resolves to a boolean.
 */
export async function verifyConsistency(args) {
  return (await consistencyFailure(args)) === null;
}

// ------------------------------------------------------------------------------------
// C2SP signed notes and checkpoints (audit.md §3), as transparency/note.rs and
// checkpoint.rs read them.

const SIG_PREFIX = '\u2014 ';
const MAX_SIGNATURES = 100;

// Names appear in signature lines, split on spaces, and in key strings, split on '+'.
// Rust's char::is_whitespace is Unicode White_Space and is_control is Cc.
function isValidName(name) {
  return name.length > 0 && !/[\p{White_Space}\p{Cc}+]/u.test(name);
}

/**
 * Parses a verifier key `name+<8 hex key id>+base64(0x01 ‖ 32-byte key)` (Go's note
 * package). The key id must be the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ key).
 * Surrounding whitespace (the newline of GET /api/v1/log/key) is ignored.
 * Returns {name, keyHash, publicRaw}; throws CheckError('log-key').
 */
export function parseVerifierKey(vkeyString) {
  const fail = (why) => new CheckError('log-key', `malformed log key: ${why}`);
  if (typeof vkeyString !== 'string') throw fail('not a string');
  const text = vkeyString.trim();
  // At most three parts: the base64 key may itself contain '+'.
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) throw fail('expected name+keyid+key');
  const name = text.slice(0, first);
  const idHex = text.slice(first + 1, second);
  if (!isValidName(name)) throw fail('invalid key name');
  if (!/^[0-9a-fA-F]{8}$/.test(idHex)) throw fail('key id must be 8 hex digits');
  let key;
  try {
    key = b64Decode(text.slice(second + 1));
  } catch {
    throw fail('key is not base64');
  }
  if (key[0] !== 0x01) throw fail('not an Ed25519 key');
  if (key.length !== 33) throw fail('Ed25519 key must be 32 bytes');
  const publicRaw = key.slice(1);
  if (!isOnCurve(yOf(publicRaw))) throw fail('invalid Ed25519 key');
  return { name, keyHash: hexDecode(idHex.toLowerCase()), publicRaw };
}

/** The C2SP key id: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[0..4]. */
async function noteKeyId(name, publicRaw) {
  return (await sha256(concat(utf8.encode(name), [0x0a, 0x01], publicRaw))).slice(0, 4);
}

/** Parses and checks a verifier key, including its key id; throws CheckError('log-key'). */
async function openVerifierKey(vkeyString) {
  const key = parseVerifierKey(vkeyString);
  if (!equalBytes(await noteKeyId(key.name, key.publicRaw), key.keyHash)) {
    throw new CheckError('log-key', 'malformed log key: key id does not match name and key');
  }
  return key;
}

/** Checks the log key's signature on a signed note; returns its text (NoteVerifier::verify). */
async function verifyNote(note, key) {
  const fail = (why) => new CheckError('checkpoint-signature', why);
  if (typeof note !== 'string') throw fail('malformed note: not text');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw fail('malformed note: control character other than newline');
  // Signature lines cannot be blank, so the last blank line ends the text.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw fail('malformed note: no blank line before signatures');
  const text = note.slice(0, split + 1);
  let sigs = note.slice(split + 2);
  if (!sigs.endsWith('\n')) throw fail('malformed note: signatures must end with a newline');
  const lines = sigs.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw fail('malformed note: too many signatures');
  for (const line of lines) {
    const rest = line.startsWith(SIG_PREFIX) ? line.slice(SIG_PREFIX.length) : null;
    const space = rest === null ? -1 : rest.lastIndexOf(' ');
    if (space < 0) throw fail('malformed note: bad signature line');
    const name = rest.slice(0, space);
    let blob;
    try {
      blob = b64Decode(rest.slice(space + 1));
    } catch {
      throw fail('malformed note: signature is not base64');
    }
    if (!isValidName(name) || blob.length <= 4) throw fail('malformed note: bad signature line');
    // Signatures by other keys (witnesses) are skipped; as in Go's note.Open, the
    // first line with our name and key id decides.
    if (name !== key.name || !equalBytes(blob.subarray(0, 4), key.keyHash)) continue;
    if (!(await verifyEd25519(key.publicRaw, utf8.encode(text), blob.subarray(4)))) {
      throw fail('note signature does not verify');
    }
    return text;
  }
  throw fail('note has no signature by the log key');
}

/** Reads a checkpoint body (checkpoint.rs `Checkpoint::parse`). */
function parseCheckpoint(text) {
  const fail = (why) => new CheckError('checkpoint-signature', `signed checkpoint does not parse: ${why}`);
  if (!text.endsWith('\n')) throw fail('checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw fail('checkpoint needs origin, size and root lines');
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin === '') throw fail('checkpoint origin is empty');
  if (!/^(?:0|[1-9][0-9]*)$/.test(sizeText)) throw fail('tree size must be a decimal number without leading zeros');
  const size = Number(sizeText);
  // The server allows any u64; a log past 2^53 entries is beyond this page (and any log).
  if (!Number.isSafeInteger(size)) throw fail('tree size is too large for this verifier');
  let root;
  try {
    root = b64Decode(rootText);
  } catch {
    root = null;
  }
  if (root === null || root.length !== 32) throw fail('root hash must be standard base64 of 32 bytes');
  if (extensions.some((l) => l === '')) throw fail('extension lines must not be empty');
  return { origin, size, root };
}

/**
 * Verifies a signed checkpoint under the pinned log key and reads it. Refuses a note
 * without a valid signature by that key (others' signatures are ignored), and a
 * checkpoint whose origin is not the key's name (Mandaat signs its checkpoints under
 * the origin). Returns {origin, size, root: Uint8Array(32)}; throws CheckError
 * ('log-key' for a bad key string, 'checkpoint-signature' for everything else).
 */
export async function verifyCheckpoint(noteText, vkeyString) {
  const key = await openVerifierKey(vkeyString);
  const checkpoint = parseCheckpoint(await verifyNote(noteText, key));
  if (checkpoint.origin !== key.name) {
    throw new CheckError('checkpoint-signature', `the checkpoint is for log ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(key.name)}`);
  }
  return checkpoint;
}

/**
 * A short fingerprint of a log key for people to compare: the first 8 bytes of
 * SHA-256 of the key string (without surrounding whitespace) as 4 groups of 4 lowercase
 * hex digits, e.g. "1a2b 3c4d 5e6f 7081". `mandaat receipt verify` prints the same.
 */
export async function fingerprint(vkeyString) {
  await openVerifierKey(vkeyString);
  const hex = hexEncode((await sha256(utf8.encode(vkeyString.trim()))).slice(0, 8));
  return hex.match(/.{4}/g).join(' ');
}

// ------------------------------------------------------------------------------------
// Receipts (audit.md §4).

function hashFromB64(text) {
  const h = b64Decode(text);
  if (h.length !== 32) throw new CheckError('encoding', 'a hash is 32 bytes');
  return h;
}

function rootBytes(root) {
  return root instanceof Uint8Array ? root : hashFromB64(root);
}

/**
 * Checks a receipt with nothing taken on trust from the server's answer:
 *   'leaf-hash'             the entry bytes built from our own signed statement `wire`
 *                           hash to the receipt's leaf_hash;
 *   'checkpoint-signature'  the checkpoint is signed by the pinned `logKey`; its size and
 *                           root are what the other checks use;
 *   'inclusion'             the receipt's leaf_hash is at `index` in the signed tree (the
 *                           receipt's own tree_size and root must equal the signed ones);
 *   'consistency'           only with `previous` = {size, root} (root as bytes or base64),
 *                           the last checkpoint this browser verified: `consistencyProof`
 *                           (hashes as bytes or base64, from GET /api/v1/log/proof/
 *                           consistency?from=<smaller size>&to=<larger size>) joins it
 *                           with this one, in whichever order they come;
 *   'statement-signature'   only with `publicKey` (32 bytes), or for a key registration
 *                           (mandaat.key.v1), whose key is in the statement: the
 *                           statement's signature verifies. Whether the key was an active
 *                           key of the signer is for the audit to check.
 * Resolves to {ok, checks: [{name, ok, detail, ...facts}], checkpoint: {origin, size, root} | null}.
 * `detail` is English (the CLI prints the same); the facts a check established are fields
 * too, so a page can word them itself: leafHash (hex) on 'leaf-hash'; logKeyName, treeSize,
 * root (base64) on 'checkpoint-signature'; index, treeSize on 'inclusion'; previousSize,
 * treeSize on 'consistency'; keyId on 'statement-signature'. A failed check has only the
 * facts established before it failed.
 * Never throws for a failed check, only for a call without arguments.
 */
export async function verifyReceipt({ wire, receipt, logKey, previous, consistencyProof, publicKey } = {}) {
  if (wire === undefined || receipt === undefined || logKey === undefined) {
    throw new TypeError('verifyReceipt needs {wire, receipt, logKey}');
  }
  const checks = [];
  // Each check also carries the facts it established (added fields, so the page can word
  // them in its own language; `detail` stays the English text the CLI prints too).
  const run = async (name, fn) => {
    const facts = {};
    try {
      const detail = await fn(facts);
      checks.push({ ...facts, name, ok: true, detail });
      return true;
    } catch (e) {
      if (!(e instanceof CheckError) && !(e instanceof TypeError)) throw e;
      checks.push({ ...facts, name, ok: false, detail: e.message });
      return false;
    }
  };
  const r = typeof receipt === 'object' && receipt !== null ? receipt : {};

  await run('leaf-hash', async (facts) => {
    const computed = hexEncode(await leafHash(entryBytes(wire)));
    facts.leafHash = computed;
    if (computed !== r.leaf_hash) {
      throw new CheckError('leaf-hash', `the entry hashes to ${computed}, not to the receipt's leaf hash ${r.leaf_hash}`);
    }
    return `the entry hashes to ${computed}`;
  });

  let checkpoint = null;
  await run('checkpoint-signature', async (facts) => {
    checkpoint = await verifyCheckpoint(r.checkpoint, logKey);
    facts.logKeyName = logKey.trim().split('+')[0];
    facts.treeSize = checkpoint.size;
    facts.root = b64Encode(checkpoint.root);
    return `signed by ${logKey.trim().split('+').slice(0, 2).join('+')}: tree size ${checkpoint.size}, root ${b64Encode(checkpoint.root)}`;
  });

  await run('inclusion', async (facts) => {
    if (checkpoint === null) throw new CheckError('inclusion', 'not checked: there is no verified checkpoint to check against');
    if (r.tree_size !== checkpoint.size) {
      throw new CheckError('inclusion', `the receipt's tree size ${r.tree_size} is not the signed size ${checkpoint.size}`);
    }
    if (r.root !== b64Encode(checkpoint.root)) throw new CheckError('inclusion', "the receipt's root is not the signed root");
    let leaf;
    let proof;
    try {
      leaf = hexDecode(r.leaf_hash);
      proof = r.inclusion_proof.map(hashFromB64);
    } catch {
      throw new CheckError('inclusion', 'the leaf hash or a proof hash is malformed');
    }
    const failure = await inclusionFailure({ leafHash: leaf, index: r.index, treeSize: checkpoint.size, proof, root: checkpoint.root });
    if (failure !== null) throw new CheckError('inclusion', failure);
    facts.index = r.index;
    facts.treeSize = checkpoint.size;
    return `entry ${r.index} is in the tree of size ${checkpoint.size}`;
  });

  if (previous !== undefined && previous !== null) {
    await run('consistency', async (facts) => {
      if (checkpoint === null) throw new CheckError('consistency', 'not checked: there is no verified checkpoint to check against');
      let earlier;
      let proof;
      try {
        earlier = { size: previous.size, root: rootBytes(previous.root) };
        proof = (consistencyProof ?? []).map(rootBytes);
      } catch {
        throw new CheckError('consistency', 'the earlier root or a proof hash is malformed');
      }
      const later = { size: checkpoint.size, root: checkpoint.root };
      const [a, b] = earlier.size <= later.size ? [earlier, later] : [later, earlier];
      const failure = await consistencyFailure({ oldSize: a.size, newSize: b.size, oldRoot: a.root, newRoot: b.root, proof });
      facts.previousSize = previous.size;
      facts.treeSize = checkpoint.size;
      if (failure !== null) throw new CheckError('consistency', `not consistent with the checkpoint of size ${previous.size} seen before: ${failure}`);
      return `consistent with the checkpoint of size ${previous.size} seen before`;
    });
  }

  let signer = publicKey;
  if (signer === undefined) {
    let body = null;
    try {
      body = readWire(wire).body;
    } catch {
      // A malformed statement has failed 'leaf-hash' already.
    }
    if (body?.type === 'mandaat.key.v1') {
      try {
        signer = b64urlDecode(body.public_key);
      } catch {
        signer = new Uint8Array(0); // no key to verify with: the check fails
      }
    }
  }
  if (signer !== undefined) {
    await run('statement-signature', async (facts) => {
      facts.keyId = wire?.key_id;
      if (!(await verifyStatement(wire, signer))) {
        throw new CheckError('statement-signature', `the statement's signature does not verify under key ${wire.key_id}`);
      }
      return `signed by key ${wire.key_id}`;
    });
  }

  return { ok: checks.every((c) => c.ok), checks, checkpoint };
}

/**
 * The receipt file a board downloads and `mandaat receipt verify <file> --log-key …`
 * checks offline: {"format": "mandaat.receipt.v1", "log_key", "entry", "receipt"} and,
 * when given, the signer's "public_key" (base64url), so the file can also prove the
 * statement's signature.
 */
export function receiptFile({ wire, receipt, logKey, publicKey }) {
  const file = {
    format: 'mandaat.receipt.v1',
    log_key: logKey.trim(),
    entry: { statement: wire.statement, key_id: wire.key_id, signature: wire.signature },
    receipt: {
      index: receipt.index,
      leaf_hash: receipt.leaf_hash,
      tree_size: receipt.tree_size,
      root: receipt.root,
      checkpoint: receipt.checkpoint,
      inclusion_proof: [...receipt.inclusion_proof],
    },
  };
  if (publicKey !== undefined) file.public_key = b64urlEncode(publicKey);
  return file;
}
