// The message files: English is complete next to Dutch (the primary language), each message
// has the same {placeholders} in both, and no key is in two bundles (i18n.js merges them).
//   node --test web/test/unit/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../i18n');
const LANGUAGES = ['nl', 'en'];

function bundles(lang) {
  const out = {};
  for (const f of readdirSync(path.join(root, lang)).filter((x) => x.endsWith('.json')).sort()) {
    out[f] = JSON.parse(readFileSync(path.join(root, lang, f), 'utf8'));
  }
  return out;
}

const placeholders = (text) => [...String(text).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('every language has the same bundles and keys, with the same placeholders', () => {
  const [primary, ...others] = LANGUAGES.map((l) => [l, bundles(l)]);
  for (const [lang, files] of others) {
    assert.deepEqual(Object.keys(files), Object.keys(primary[1]), `bundles of ${lang}`);
    for (const [file, nl] of Object.entries(primary[1])) {
      const other = files[file];
      const missing = Object.keys(nl).filter((k) => !(k in other));
      const extra = Object.keys(other).filter((k) => !(k in nl));
      assert.deepEqual(missing, [], `${lang}/${file} lacks keys that ${primary[0]}/${file} has`);
      assert.deepEqual(extra, [], `${lang}/${file} has keys that ${primary[0]}/${file} lacks`);
      for (const [k, v] of Object.entries(nl)) {
        assert.equal(typeof other[k], typeof v, `${lang}/${file}: ${k}`);
        assert.notEqual(String(other[k]).trim(), '', `${lang}/${file}: ${k} is empty`);
        assert.deepEqual(placeholders(other[k]), placeholders(v), `${lang}/${file}: placeholders of ${k}`);
      }
    }
  }
});

test('no key is defined in two bundles', () => {
  for (const lang of LANGUAGES) {
    const seen = new Map();
    for (const [file, messages] of Object.entries(bundles(lang))) {
      for (const k of Object.keys(messages)) {
        assert.ok(!seen.has(k), `${lang}: ${k} is in ${seen.get(k)} and ${file}`);
        seen.set(k, file);
      }
    }
  }
});
