// Keys: the board's signing key in this browser (issue §4).
// The key pair is made by WebCrypto as NON-extractable and kept in IndexedDB (keystore.js),
// so the private key can sign here but can never be read out, copied or sent anywhere.
// Also exports the helpers other pages use to sign: loadSigner, nonce, nowUtc.
import { html, useState, useRef, PageTitle, Loading, ErrorBox, Field, describedBy, useLoad, useTitle, DataTable, announce } from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import * as fmt from '../fmt.js';
import * as crypto from '../crypto.js';
import { getDeviceKey, putDeviceKey, deleteDeviceKey } from '../keystore.js';
import { ReceiptPanel } from './receipt.js';
import { href } from '../router.js';

// RFC 3339 UTC with seconds and no fraction, as every statement wants.
export function nowUtc() {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

// 32 random bytes, base64url unpadded.
export function nonce() {
  return crypto.b64urlEncode(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

// This device's key for the board, with the server's view of it.
// -> {record|null, serverKey|null, keys: [MemberKey], usable: boolean}
export async function loadSigner(memberId) {
  const [record, keys] = await Promise.all([getDeviceKey(memberId), api.get(`/api/v1/members/${memberId}/keys`)]);
  const serverKey = record ? keys.find((k) => k.key_id === record.keyId) || null : null;
  return { record, serverKey, keys, usable: Boolean(serverKey && serverKey.status === 'active') };
}

export function sign(record, statement) {
  return crypto.signStatement({ privateKey: record.privateKey, publicRaw: record.publicRaw, keyId: record.keyId }, statement);
}

function shortId(id) {
  return `${id.slice(0, 8)}…${id.slice(-4)}`;
}

// Browser and system named from a user-agent string, for people rather than machines.
export function browserAndOs(ua) {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome/Chromium' : /Safari\//.test(ua) ? 'Safari' : t('keys.device.browser');
  const os = /Windows/.test(ua) ? 'Windows' : /Mac OS X|Macintosh/.test(ua) ? 'macOS' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Linux/.test(ua) ? 'Linux' : t('keys.device.os');
  return { browser, os };
}

// A label describing this device, from what the browser tells about itself.
function deviceDescription() {
  const { browser, os } = browserAndOs(navigator.userAgent);
  return t('keys.device.label', { browser, os, date: fmt.date(new Date().toISOString()) });
}

function RegisterForm({ me, replacing, onDone }) {
  const [label, setLabel] = useState(deviceDescription());
  const [error, setError] = useState(null);
  const [fieldError, setFieldError] = useState(null);
  const [busy, setBusy] = useState(false);
  const id = 'key-label';

  async function submit(e) {
    e.preventDefault();
    const l = label.trim();
    if (l.length < 1 || l.length > 200) {
      setFieldError(t('keys.label.invalid'));
      document.getElementById(id).focus();
      return;
    }
    setFieldError(null);
    setError(null);
    setBusy(true);
    try {
      const memberId = me.member.id;
      const pair = await crypto.generateSigningKey();
      const statement = { type: 'mandaat.key.v1', member: memberId, public_key: crypto.b64urlEncode(pair.publicRaw), label: l };
      const wire = await crypto.signStatement(pair, statement);
      const key = await api.post(`/api/v1/members/${memberId}/keys`, wire);
      await putDeviceKey({
        member: memberId, keyId: pair.keyId, privateKey: pair.privateKey, publicKey: pair.publicKey,
        publicRaw: pair.publicRaw, label: l, createdAt: nowUtc(),
      });
      announce(t('keys.registered'));
      onDone({ wire, receipt: key.receipt, kind: 'key', publicKey: pair.publicRaw });
    } catch (err) {
      // A browser without Ed25519 in WebCrypto (or a page not in a secure context) cannot
      // make a key at all: say so plainly instead of showing a technical message only.
      if (err && (err.name === 'NotSupportedError' || !globalThis.crypto || !globalThis.crypto.subtle)) {
        setError(new Error(t('keys.unsupported')));
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  }

  if (!window.isSecureContext || !globalThis.crypto || !globalThis.crypto.subtle) {
    return html`<div class="warning" role="alert"><p>${t('keys.insecure')}</p></div>`;
  }

  return html`<form onSubmit=${submit} novalidate>
    <${ErrorBox} error=${error} title=${t('keys.register.failed')} />
    <${Field} id=${id} label=${t('keys.label.label')} hint=${t('keys.label.hint')} error=${fieldError}>
      <input type="text" id=${id} value=${label} maxlength="200" onInput=${(e) => setLabel(e.currentTarget.value)}
        aria-describedby=${describedBy(id, { hint: true, error: fieldError })} aria-invalid=${fieldError ? 'true' : undefined} />
    <//>
    <div class="actions">
      <button type="submit" disabled=${busy}>${busy ? t('keys.register.busy') : t(replacing ? 'keys.register.new-button' : 'keys.register.button')}</button>
    </div>
  </form>`;
}

function RevokeButton({ me, target, signer, onDone }) {
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const rid = `revoke-reason-${target.key_id.slice(0, 8)}`;
  const isThis = signer.record && signer.record.keyId === target.key_id;

  if (!signer.usable) {
    return html`<span class="meta">${t('keys.revoke.needs-key')}</span>`;
  }
  if (!confirming) {
    return html`<button type="button" class="secondary small" onClick=${() => setConfirming(true)}
      aria-label=${t('keys.revoke.button-for', { label: target.label || shortId(target.key_id) })}>${t('keys.revoke.button')}</button>`;
  }
  async function revoke() {
    setBusy(true);
    setError(null);
    try {
      const statement = { type: 'mandaat.key-revocation.v1', member: me.member.id, key_id: target.key_id };
      if (reason.trim()) statement.reason = reason.trim().slice(0, 200);
      const wire = await sign(signer.record, statement);
      const res = await api.post(`/api/v1/members/${me.member.id}/keys/${target.key_id}/revoke`, { revocation: wire });
      if (isThis) await deleteDeviceKey(me.member.id);
      announce(t('keys.revoked'));
      onDone({ wire, receipt: res && res.receipt, kind: 'revocation', publicKey: signer.record.publicRaw });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }
  return html`<div class="revoke-confirm">
    <p><strong>${isThis ? t('keys.revoke.confirm-this') : t('keys.revoke.confirm')}</strong></p>
    <${ErrorBox} error=${error} />
    <${Field} id=${rid} label=${t('keys.revoke.reason')} hint=${t('keys.revoke.reason-hint')}>
      <input type="text" id=${rid} value=${reason} maxlength="200" aria-describedby=${describedBy(rid, { hint: true })} onInput=${(e) => setReason(e.currentTarget.value)} />
    <//>
    <div class="actions">
      <button type="button" class="danger" disabled=${busy} onClick=${revoke}>${t('keys.revoke.sign')}</button>
      <button type="button" class="secondary" onClick=${() => setConfirming(false)}>${t('common.cancel')}</button>
    </div>
  </div>`;
}

export function KeysPage({ me }) {
  useTitle(t('keys.title'));
  const [receipt, setReceipt] = useState(null);
  const hasMember = Boolean(me.member);
  const { data: signer, error, loading, reload } = useLoad(() => (hasMember ? loadSigner(me.member.id) : null), [hasMember]);
  const resultRef = useRef(null);

  const done = (r) => {
    setReceipt(r);
    reload();
  };

  if (!hasMember) {
    return html`<section><${PageTitle}>${t('keys.title')}<//><p>${t('keys.board-only')}</p></section>`;
  }

  let status = null;
  if (signer) {
    if (signer.usable) {
      status = html`<div class="success"><p><strong>${t('keys.this-device.active')}</strong></p>
        <p>${t('keys.this-device.id', { label: signer.record.label, id: shortId(signer.record.keyId) })}</p></div>`;
    } else if (signer.record) {
      status = html`<div class="warning"><p><strong>${t('keys.this-device.invalid')}</strong></p><p>${t('keys.this-device.invalid-help')}</p></div>`;
    } else {
      status = html`<div class="notice"><p><strong>${t('keys.this-device.none')}</strong></p><p>${t('keys.this-device.none-help')}</p></div>`;
    }
  }

  const rows = signer ? signer.keys.map((k) => ({
    label: html`${k.label || t('keys.no-label')}${signer.record && signer.record.keyId === k.key_id ? html` <span class="tag tag-open">${t('keys.this-device.tag')}</span>` : null}`,
    id: html`<code title=${k.key_id}>${shortId(k.key_id)}</code>`,
    status: k.status === 'active' ? t('keys.status.active') : t('keys.status.revoked-on', { date: fmt.dateTime(k.revoked_at) }),
    registered: fmt.dateTime(k.registered_at),
    action: k.status === 'active' ? html`<${RevokeButton} me=${me} target=${k} signer=${signer} onDone=${done} />` : '',
  })) : [];

  return html`<section>
    <${PageTitle}>${t('keys.title')}<//>
    <p>${t('keys.intro.where')}</p>
    <p>${t('keys.intro.lost')}</p>
    ${loading && !signer ? html`<${Loading} />` : null}
    <${ErrorBox} error=${error} />
    ${signer ? html`
      <h2>${t('keys.this-device.heading')}</h2>
      ${status}
      ${!signer.usable ? html`<${RegisterForm} me=${me} replacing=${Boolean(signer.record)} onDone=${done} />` : null}
      ${receipt ? html`<div ref=${resultRef}><${ReceiptPanel} wire=${receipt.wire} receipt=${receipt.receipt} kind=${receipt.kind} publicKey=${receipt.publicKey} /></div>` : null}
      <h2>${t('keys.list.heading', { board: me.member.name })}</h2>
      ${signer.keys.length === 0 ? html`<p>${t('keys.list.empty')}</p>` : html`<${DataTable}
        caption=${t('keys.list.caption')}
        columns=${[
          { key: 'label', label: t('keys.col.label') }, { key: 'id', label: t('keys.col.id') },
          { key: 'status', label: t('keys.col.status') }, { key: 'registered', label: t('keys.col.registered') },
          { key: 'action', label: t('keys.col.action') },
        ]}
        rows=${rows} />`}
      ${signer.usable ? html`<p><a href=${href('/proposals')}>${t('keys.to-proposals')}</a></p>` : null}
    ` : null}
  </section>`;
}
