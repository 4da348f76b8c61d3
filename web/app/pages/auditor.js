// Audit (#/audit), for an auditor: download the audit bundle (GET /api/v1/audit/bundle) and
// see the log's latest checkpoint (GET /api/v1/log/checkpoint), verified here under the log
// key pinned in this browser (the same pin the receipts use: trust on first use), checked for
// consistency with the last checkpoint this browser verified, with the key's fingerprint and
// the offline command that checks the bundle without trusting the server or this page.
import {
  html, useState, useEffect, useRef, PageTitle, Loading, ErrorBox, Facts, useTitle, announce, saveFile,
} from '../ui.js';
import { t } from '../i18n.js';
import { api, ApiProblem, problemText } from '../api.js';
import * as fmt from '../fmt.js';
import * as crypto from '../crypto.js';
import { getPinnedLogKey, pinLogKey, getLatestCheckpoint, putLatestCheckpoint } from '../keystore.js';


const BUNDLE_FILE = 'bundle.json';

const errText = (e) => (e instanceof ApiProblem ? `${problemText(e)} ${e.detail}` : String((e && e.message) || e));

// Everything the checkpoint section shows, computed once per visit.
async function checkLog() {
  const checks = [];
  const served = (await api.getText('/api/v1/log/key')).trim();
  let pin = await getPinnedLogKey();
  let pinnedNow = false;
  if (!pin) {
    pin = await pinLogKey(served, await crypto.fingerprint(served)); // rejects a malformed key
    pinnedNow = true;
  }
  const servedFingerprint = served === pin.logKey ? pin.fingerprint : await crypto.fingerprint(served).catch(() => null);
  checks.push({
    name: 'log-key',
    ok: served === pin.logKey,
    detail: served === pin.logKey ? null : t('auditor.check.log-key.changed', { fingerprint: servedFingerprint || '?' }),
  });

  const note = await api.getText('/api/v1/log/checkpoint');
  let signed = null;
  try {
    signed = await crypto.verifyCheckpoint(note, pin.logKey);
    checks.push({ name: 'checkpoint-signature', ok: true, detail: null });
  } catch (e) {
    checks.push({ name: 'checkpoint-signature', ok: false, detail: errText(e) });
  }

  let previous = null;
  if (signed) {
    previous = await getLatestCheckpoint(signed.origin);
    const root = crypto.b64Encode(signed.root);
    if (!previous) {
      checks.push({ name: 'consistency', ok: true, detail: t('auditor.check.consistency.first') });
    } else if (previous.size === signed.size) {
      const same = previous.root === root;
      checks.push({ name: 'consistency', ok: same, detail: same ? t('auditor.check.consistency.same') : t('auditor.check.consistency.fork') });
    } else if (previous.size > signed.size) {
      checks.push({ name: 'consistency', ok: false, detail: t('auditor.check.consistency.shrunk', { old: fmt.number(previous.size), size: fmt.number(signed.size) }) });
    } else {
      try {
        const p = await api.get(`/api/v1/log/proof/consistency?from=${previous.size}&to=${signed.size}`);
        const ok = await crypto.verifyConsistency({
          oldSize: previous.size,
          newSize: signed.size,
          oldRoot: crypto.b64Decode(previous.root),
          newRoot: signed.root,
          proof: p.proof.map((h) => crypto.b64Decode(h)),
        });
        checks.push({
          name: 'consistency',
          ok,
          detail: ok ? t('auditor.check.consistency.ok', { old: fmt.number(previous.size) }) : t('auditor.check.consistency.fork'),
        });
      } catch (e) {
        checks.push({ name: 'consistency', ok: false, detail: errText(e) });
      }
    }
    if (checks.every((c) => c.ok) && (!previous || signed.size > previous.size)) {
      await putLatestCheckpoint({ origin: signed.origin, size: signed.size, root, note });
    }
  }
  return { pin, pinnedNow, served, note, signed, previous, checks, ok: checks.every((c) => c.ok) };
}

function BundleSection() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const download = async () => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const blob = await api.getBlob('/api/v1/audit/bundle');
      saveFile(BUNDLE_FILE, blob, 'application/json');
      const text = t('auditor.bundle.done', { file: BUNDLE_FILE, size: fmt.number(Math.ceil(blob.size / 1024)) });
      setDone(text);
      announce(text);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby="bundle-title">
    <h2 id="bundle-title">${t('auditor.bundle.title')}</h2>
    <p>${t('auditor.bundle.explain')}</p>
    <div class="actions">
      <button type="button" onClick=${download} disabled=${busy}>${busy ? t('auditor.bundle.busy') : t('auditor.bundle.download')}</button>
    </div>
    ${done ? html`<p class="success" role="status">${done}</p>` : null}
    <${ErrorBox} error=${error} />
  </section>`;
}

function CopyCommand({ command }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopied(true);
      announce(t('auditor.command.copied'));
    } catch {
      const sel = window.getSelection();
      const range = document.createRange();
      range.selectNodeContents(document.getElementById('auditor-command'));
      sel.removeAllRanges();
      sel.addRange(range);
      announce(t('auditor.command.select'));
    }
  };
  return html`<div>
    <pre class="command" id="auditor-command" tabindex="0" aria-label=${t('auditor.command.label')}><code>${command}</code></pre>
    <div class="actions"><button type="button" class="secondary" onClick=${copy}>${copied ? t('auditor.command.copied-button') : t('auditor.command.copy')}</button></div>
  </div>`;
}

function CheckpointSection() {
  const [state, setState] = useState({ loading: true, error: null, data: null });
  const [tick, setTick] = useState(0);
  const headRef = useRef(null);
  useEffect(() => {
    let live = true;
    setState({ loading: true, error: null, data: null });
    checkLog().then(
      (data) => {
        if (!live) return;
        setState({ loading: false, error: null, data });
        announce(data.ok ? t('auditor.checkpoint.ok') : t('auditor.checkpoint.failed'), { assertive: !data.ok });
      },
      (error) => live && setState({ loading: false, error, data: null }),
    );
    return () => { live = false; };
  }, [tick]);

  const { loading, error, data } = state;
  return html`<section aria-labelledby="checkpoint-title">
    <h2 id="checkpoint-title" tabindex="-1" ref=${headRef}>${t('auditor.checkpoint.title')}</h2>
    <p>${t('auditor.checkpoint.explain')}</p>
    ${loading ? html`<${Loading} />` : null}
    <${ErrorBox} error=${error} />
    ${data ? html`
      <div class=${data.ok ? 'success' : 'failure'}>
        <p><strong>${data.ok ? t('auditor.checkpoint.ok') : t('auditor.checkpoint.failed')}</strong></p>
        <ul class="check-list">
          ${data.checks.map((c) => html`<li class=${c.ok ? 'ok' : 'bad'}>
            <span class="visually-hidden">${c.ok ? t('auditor.check.passed') : t('auditor.check.failed')}: </span>
            ${t(`auditor.check.${c.name}`)}${c.detail ? html` — <span>${c.detail}</span>` : null}
          </li>`)}
        </ul>
      </div>
      <h3>${t('auditor.key.title')}</h3>
      <p>${data.pinnedNow ? t('auditor.key.pinned-now') : t('auditor.key.pinned', { date: fmt.dateTime(data.pin.pinnedAt) })}</p>
      <${Facts} items=${[
        [t('auditor.key.fingerprint'), html`<span class="fingerprint mono">${data.pin.fingerprint}</span>`],
        [t('auditor.key.key'), html`<code class="break">${data.pin.logKey}</code>`],
      ]} />
      <p class="hint">${t('auditor.key.compare')}</p>
      ${data.signed ? html`
        <h3>${t('auditor.checkpoint.latest')}</h3>
        <${Facts} items=${[
          [t('auditor.checkpoint.origin'), html`<code>${data.signed.origin}</code>`],
          [t('auditor.checkpoint.size'), fmt.number(data.signed.size)],
          [t('auditor.checkpoint.root'), html`<code class="break">${crypto.b64Encode(data.signed.root)}</code>`],
          data.previous ? [t('auditor.checkpoint.previous'), t('auditor.checkpoint.previous-value', { size: fmt.number(data.previous.size), date: fmt.dateTime(data.previous.seenAt) })] : null,
        ]} />` : null}
      <details>
        <summary>${t('auditor.checkpoint.note')}</summary>
        <pre class="statement">${data.note}</pre>
      </details>
      <div class="actions">
        <button type="button" class="secondary" onClick=${() => setTick((n) => n + 1)}>${t('auditor.checkpoint.again')}</button>
      </div>
      <h3>${t('auditor.command.title')}</h3>
      <p>${t('auditor.command.explain', { file: BUNDLE_FILE })}</p>
      <${CopyCommand} command=${`mandaat audit verify ${BUNDLE_FILE} --log-key '${data.pin.logKey}'`} />
      <p class="hint">${t('auditor.command.after')}</p>` : null}
  </section>`;
}

export function AuditorPage({ me }) {
  useTitle(t('auditor.title'));
  if (!me || (me.role !== 'auditor' && me.role !== 'admin')) {
    return html`<section><${PageTitle}>${t('auditor.title')}<//><p>${t('auditor.auditors-only')}</p></section>`;
  }
  return html`<section>
    <${PageTitle}>${t('auditor.title')}<//>
    <p>${t('auditor.intro')}</p>
    ${me.role === 'auditor' ? html`<${BundleSection} />` : html`<p class="notice">${t('auditor.bundle.auditors-only')}</p>`}
    <${CheckpointSection} />
  </section>`;
}
