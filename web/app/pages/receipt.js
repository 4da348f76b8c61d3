// Receipt verification in the page (issue §6). Nothing is taken on trust from the server's
// answer: from our own signed statement crypto.verifyReceipt rebuilds the entry bytes and
// leaf hash, checks the checkpoint's signature under the log key pinned in this browser, the
// inclusion proof up to the signed root, our statement's signature, and that the checkpoint
// is consistent with the last one this browser verified (so a server showing different
// histories to different boards is caught). Only when every check passes is the statement
// called recorded; the latest verified checkpoint is then kept per log in IndexedDB.
//
// Exports: verifyReceiptHere({wire, receipt, publicKey?})
//            -> {ok, checks, logKey, fingerprint, pinnedAt, pinnedNow}
//          <ReceiptPanel wire receipt kind="ballot"|"proxy"|"key"|"revocation" publicKey? />
//
// A check is {name, ok, detail?, ...facts} as crypto.verifyReceipt returns it (detail is
// English, the same text the CLI prints), or one this page makes: {name, ok, say: message key,
// sizes: {param: number of entries}}. What is shown is worded at render time in the current
// language from the facts (checkWords); a failure gets a translated sentence per check and
// the English detail on a smaller line marked lang="en".
import { html, useEffect, useRef, useState, announce, saveFile } from '../ui.js';
import { t, has, plural } from '../i18n.js';
import { api, problemText, ApiProblem } from '../api.js';
import * as fmt from '../fmt.js';
import * as crypto from '../crypto.js';
import { getPinnedLogKey, pinLogKey, getLatestCheckpoint, putLatestCheckpoint } from '../keystore.js';

const CHECK_ORDER = ['log-key', 'leaf-hash', 'statement-signature', 'checkpoint-signature', 'inclusion', 'consistency'];

async function pinnedKey() {
  const pin = await getPinnedLogKey();
  if (pin) return { ...pin, pinnedNow: false };
  // Trust on first use: the key is fetched once and kept; later answers never replace it.
  const logKey = (await api.getText('/api/v1/log/key')).trim();
  const rec = await pinLogKey(logKey, await crypto.fingerprint(logKey)); // fingerprint() rejects a malformed key
  return { ...rec, pinnedNow: true };
}

export async function verifyReceiptHere({ wire, receipt, publicKey }) {
  const pin = await pinnedKey();
  // Which log is this, and what did this browser see of it before? Only a checkpoint that
  // verifies under the pinned key is used to pick the earlier checkpoint and the proof.
  let signed = null;
  try {
    signed = await crypto.verifyCheckpoint(receipt.checkpoint, pin.logKey);
  } catch {
    signed = null; // verifyReceipt reports the failure as 'checkpoint-signature'
  }
  const previous = signed ? await getLatestCheckpoint(signed.origin) : null;
  let consistencyProof;
  let proofError = null;
  if (signed && previous && previous.size !== signed.size) {
    const from = Math.min(previous.size, signed.size);
    const to = Math.max(previous.size, signed.size);
    try {
      consistencyProof = (await api.get(`/api/v1/log/proof/consistency?from=${from}&to=${to}`)).proof;
    } catch (err) {
      // Without a proof the check cannot pass; verifyReceipt will name it as failed.
      consistencyProof = [];
      proofError = err;
    }
  }
  const r = await crypto.verifyReceipt({
    wire, receipt, logKey: pin.logKey, publicKey,
    previous: previous ? { size: previous.size, root: previous.root } : undefined,
    consistencyProof,
  });
  const checks = [...r.checks];
  if (proofError) {
    const i = checks.findIndex((c) => c.name === 'consistency');
    if (i >= 0 && !checks[i].ok) checks[i] = { ...checks[i], proofError };
  }
  if (signed && !previous) {
    checks.push({ name: 'consistency', ok: true, say: 'receipt.consistency.first', sizes: { entries: signed.size } });
  }
  const ok = r.ok && checks.every((c) => c.ok);
  if (ok && signed && (!previous || signed.size > previous.size)) {
    await putLatestCheckpoint({ origin: signed.origin, size: signed.size, root: crypto.b64Encode(signed.root), note: receipt.checkpoint });
  }
  checks.sort((a, b) => CHECK_ORDER.indexOf(a.name) - CHECK_ORDER.indexOf(b.name));
  return { ok, checks, logKey: pin.logKey, fingerprint: pin.fingerprint, pinnedAt: pin.pinnedAt, pinnedNow: pin.pinnedNow };
}

function checkName(name) {
  return CHECK_ORDER.includes(name) ? t(`receipt.check.${name}`) : name;
}

/** "6 entries" / "6 regels", "1 entry" / "1 regel". */
function entries(n) {
  return plural('receipt.entries', n);
}

const isCount = (n) => Number.isSafeInteger(n) && n >= 0;

/**
 * What a check established, in the reader's language: {text, technical}. `technical` is the
 * English detail from crypto.js, shown only for a failure or when the facts to word it are
 * missing.
 */
function checkWords(c) {
  if (c.say) {
    const params = Object.fromEntries(Object.entries(c.sizes || {}).map(([k, n]) => [k, entries(n)]));
    return { text: t(c.say, params), technical: c.ok ? null : c.detail || null };
  }
  if (!c.ok) {
    let text = has(`receipt.fail.${c.name}`) ? t(`receipt.fail.${c.name}`) : '';
    let technical = c.detail || '';
    if (c.proofError) {
      const err = c.proofError;
      text = `${text} ${problemText(err)}`.trim();
      technical = `${technical} (${err instanceof ApiProblem ? err.detail : err.message || String(err)})`;
    }
    return { text, technical: technical || null };
  }
  let text = null;
  switch (c.name) {
    case 'leaf-hash':
      if (c.leafHash) text = t('receipt.detail.leaf-hash', { hash: c.leafHash });
      break;
    case 'checkpoint-signature':
      if (c.logKeyName && isCount(c.treeSize) && c.root) {
        text = t('receipt.detail.checkpoint-signature', { key: c.logKeyName, entries: entries(c.treeSize), root: c.root });
      }
      break;
    case 'inclusion':
      if (isCount(c.index) && isCount(c.treeSize)) {
        text = t('receipt.detail.inclusion', { index: fmt.number(c.index), entries: entries(c.treeSize) });
      }
      break;
    case 'consistency':
      if (isCount(c.previousSize)) text = t('receipt.detail.consistency', { entries: entries(c.previousSize) });
      break;
    case 'statement-signature':
      if (c.keyId) text = t('receipt.detail.statement-signature', { key: c.keyId });
      break;
    default:
  }
  // Facts missing (an older crypto.js): show its English detail rather than nothing.
  return text === null ? { text: null, technical: c.detail || null } : { text, technical: null };
}

/** The list of checks, each passed/failed for screen readers, its name and what it found. */
function CheckList({ checks }) {
  return html`<ul class="check-list" aria-label=${t('receipt.checks')}>
    ${checks.map((c) => {
      const w = checkWords(c);
      return html`<li class=${c.ok ? 'ok' : 'bad'}>
        <span class="visually-hidden">${c.ok ? t('receipt.check.passed') : t('receipt.check.failed')}: </span>
        <strong>${checkName(c.name)}</strong>${w.text ? html` — <span class="wrap">${w.text}</span>` : null}
        ${w.technical ? html`<span class="technical">${t('receipt.detail.technical')} <span class="wrap" lang="en">${w.technical}</span></span>` : null}
      </li>`;
    })}
  </ul>`;
}

export function ReceiptPanel({ wire, receipt, kind = 'ballot', publicKey, extra }) {
  const [state, setState] = useState(null);
  const [error, setError] = useState(null);
  const headRef = useRef(null);

  useEffect(() => {
    let live = true;
    setState(null);
    setError(null);
    if (!receipt) {
      setError(new Error(t('receipt.missing')));
      return undefined;
    }
    verifyReceiptHere({ wire, receipt, publicKey }).then(
      (s) => live && setState(s),
      (e) => live && setError(e),
    );
    return () => { live = false; };
  }, [wire, receipt]);

  useEffect(() => {
    if (!state && !error) return;
    if (headRef.current) headRef.current.focus();
    const failed = error || (state && !state.ok);
    announce(failed ? t(`receipt.failed.${kind}`) : t(`receipt.ok.${kind}`), { assertive: Boolean(failed) });
  }, [state, error]);

  function download() {
    const file = crypto.receiptFile({ wire, receipt, logKey: state.logKey, publicKey });
    saveFile(`mandaat-receipt-${receipt.index}.json`, `${JSON.stringify(file, null, 2)}\n`, 'application/json');
  }

  if (!state && !error) {
    return html`<div class="notice" role="status"><p>${t('receipt.checking')}</p></div>`;
  }
  if (error) {
    return html`<div class="failure">
      <h2 tabindex="-1" ref=${headRef}>${t(`receipt.failed.${kind}`)}</h2>
      <p>${t('receipt.could-not-check')}</p>
      ${error instanceof ApiProblem
        ? html`<p class="error-detail">${problemText(error)} <span lang="en">${error.detail}</span></p>`
        : html`<p class="error-detail" lang="en">${error.message}</p>`}
    </div>`;
  }
  const failedCheck = state.checks.find((c) => !c.ok);
  return html`<div class=${state.ok ? 'success' : 'failure'}>
    <h2 tabindex="-1" ref=${headRef}>${state.ok ? t(`receipt.ok.${kind}`) : t(`receipt.failed.${kind}`)}</h2>
    ${extra}
    ${failedCheck
      ? html`<p><strong>${t('receipt.failed.which', { check: checkName(failedCheck.name) })}</strong></p>`
      : html`<p>${t('receipt.ok.explain', { index: fmt.number(receipt.index), entries: entries(receipt.tree_size) })}</p>`}
    <${CheckList} checks=${state.checks} />
    <p>${t('receipt.fingerprint', { fingerprint: state.fingerprint })}
      ${' '}${state.pinnedNow ? t('receipt.pinned-now') : t('receipt.pinned-since', { date: fmt.dateTime(state.pinnedAt) })}</p>
    <p class="meta">${t('receipt.compare')}</p>
    <div class="actions">
      <button type="button" class="secondary" onClick=${download}>${t('receipt.download')}</button>
    </div>
  </div>`;
}

// The log's latest checkpoint, checked now: signed by the pinned key and consistent with the
// last checkpoint this browser verified. A board can do this any time, not only when voting.
export async function checkLogNow() {
  const pin = await pinnedKey();
  const note = await api.getText('/api/v1/log/checkpoint');
  const checks = [];
  let cp = null;
  try {
    cp = await crypto.verifyCheckpoint(note, pin.logKey);
    checks.push({ name: 'checkpoint-signature', ok: true, say: 'logcheck.signed', sizes: { entries: cp.size } });
  } catch (err) {
    checks.push({ name: err.check || 'checkpoint-signature', ok: false, detail: err.message });
  }
  if (cp) {
    const prev = await getLatestCheckpoint(cp.origin);
    let ok = true;
    let say;
    let sizes = { entries: cp.size };
    if (!prev) {
      say = 'receipt.consistency.first';
    } else if (prev.size === cp.size) {
      ok = crypto.b64Encode(cp.root) === prev.root;
      say = ok ? 'receipt.consistency.same' : 'receipt.consistency.fork';
    } else {
      const [a, b] = prev.size < cp.size
        ? [{ size: prev.size, root: crypto.b64Decode(prev.root) }, { size: cp.size, root: cp.root }]
        : [{ size: cp.size, root: cp.root }, { size: prev.size, root: crypto.b64Decode(prev.root) }];
      const proof = await api.get(`/api/v1/log/proof/consistency?from=${a.size}&to=${b.size}`);
      ok = await crypto.verifyConsistency({ oldSize: a.size, newSize: b.size, oldRoot: a.root, newRoot: b.root, proof: proof.proof.map((h) => crypto.b64Decode(h)) });
      say = ok ? 'receipt.consistency.ok' : 'receipt.consistency.bad';
      sizes = { from: a.size, to: b.size };
    }
    checks.push({ name: 'consistency', ok, say, sizes });
    if (ok && (!prev || cp.size > prev.size)) {
      await putLatestCheckpoint({ origin: cp.origin, size: cp.size, root: crypto.b64Encode(cp.root), note });
    }
  }
  return { ok: checks.every((c) => c.ok), checks, fingerprint: pin.fingerprint, pinnedAt: pin.pinnedAt, pinnedNow: pin.pinnedNow };
}

export function LogCheck() {
  const [state, setState] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function run() {
    setBusy(true);
    setError(null);
    try {
      const s = await checkLogNow();
      setState(s);
      announce(s.ok ? t('logcheck.ok') : t('logcheck.failed'), { assertive: !s.ok });
    } catch (err) {
      setState(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return html`<div>
    <p>${t('logcheck.explain')}</p>
    <div class="actions"><button type="button" class="secondary" onClick=${run} disabled=${busy}>${busy ? t('logcheck.busy') : t('logcheck.button')}</button></div>
    ${error ? html`<div class="failure" role="alert"><p><strong>${t('logcheck.failed')}</strong></p>
      ${error instanceof ApiProblem
        ? html`<p>${problemText(error)} <span lang="en">${error.detail}</span></p>`
        : html`<p lang="en">${error.message}</p>`}</div>` : null}
    ${state ? html`<div class=${state.ok ? 'success' : 'failure'}>
      <p><strong>${state.ok ? t('logcheck.ok') : t('logcheck.failed')}</strong></p>
      <${CheckList} checks=${state.checks} />
      <p>${t('receipt.fingerprint', { fingerprint: state.fingerprint })}
        ${' '}${state.pinnedNow ? t('receipt.pinned-now') : t('receipt.pinned-since', { date: fmt.dateTime(state.pinnedAt) })}</p>
    </div>` : null}
  </div>`;
}
