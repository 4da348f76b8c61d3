// ui.js — shared components and helpers for every page (shell and admin pages).
//
// Re-exports from the vendored Preact/htm: html, render, useState, useEffect, useRef, useMemo,
// useCallback, useReducer, useLayoutEffect.
//
// Helpers:
//   announce(text, {assertive}?)   say text in the app's aria-live region (#live-polite or
//                                  #live-assertive in index.html). Use for results and errors.
//   useLoad(loader, deps)          -> {data, error, loading, reload}; loader is an async function.
//   useTitle(text)                 sets document.title to "<text> – Mandaat".
//   saveFile(filename, content, mime)  offers content (string or Blob) as a download.
//   describedBy(id, {hint, error}) the aria-describedby value for a control rendered in <Field>.
//
// Components (all texts are passed in already translated, or come from common.json):
//   <PageTitle>text</PageTitle>    the page's one <h1>; the shell moves focus to it after every
//                                  navigation (it has tabindex="-1" and id="page-title").
//   <Loading/>                     a polite "loading" status line.
//   <ErrorBox error=${err} />      an API error as an alert: the translated problem (by type)
//                                  plus the server's detail. Renders nothing for a null error.
//   <ErrorSummary errors=${[{id, text}]} />  a list of field errors linking to the fields
//                                  (id = the control's id); takes focus when it appears.
//   <Field id label hint? error?>control</Field>  label + hint + error around one control;
//                                  give the control id=${id} and aria-describedby=${describedBy(id, {hint, error})}
//                                  and aria-invalid when error is set.
//   useFieldErrors(labels)         -> {errors, summary, show, refused} for a form with an
//                                  <ErrorSummary>: show(map, extra?) sets the field errors
//                                  ({id: text}, listed as "<label>: text") and an optional
//                                  entry without a field first; refused(err, fieldOf) shows a
//                                  refused request on the field fieldOf(err) returns as
//                                  [id, text], else at the top, with the server's detail.
//   <CopyBox id label value describedBy? texts />  a read-only text shown once with a copy
//                                  button; texts: {copy, copiedButton, copied, select}.
//   <ConfirmPanel id question explain yes onYes onCancel />  asks before a destructive action:
//                                  takes focus; onYes is async, and its error is shown here.
//   <StatusTag status="open" />    the translated proposal status as a tag.
//   <Facts items=${[[term, value], ...]} />  a definition list.
//   <DataTable caption columns=${[{key, label, numeric?}]} rows=${[{...}]} />
//   <BarChart title rows=${[{label, value}]} format=${fn} max? />  an inline SVG bar chart with
//                                  role="img" and a visually hidden table of the same numbers.
import {
  html, render, useState, useEffect, useRef, useMemo, useCallback, useReducer, useLayoutEffect,
} from '../vendor/htm-preact-standalone.mjs';
import { t } from './i18n.js';
import { problemText, ApiProblem } from './api.js';

export { html, render, useState, useEffect, useRef, useMemo, useCallback, useReducer, useLayoutEffect };

export function announce(text, { assertive = false } = {}) {
  const el = document.getElementById(assertive ? 'live-assertive' : 'live-polite');
  if (!el) return;
  // Clearing first makes screen readers repeat an identical message.
  el.textContent = '';
  setTimeout(() => {
    el.textContent = text;
  }, 50);
}

export function useLoad(loader, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve()
      .then(loader)
      .then(
        (data) => live && setState({ data, error: null, loading: false }),
        (error) => live && setState({ data: null, error, loading: false }),
      );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

export function useTitle(text) {
  useEffect(() => {
    document.title = text ? `${text} – ${t('app.name')}` : t('app.name');
  }, [text]);
}

export function saveFile(filename, content, mime = 'application/octet-stream') {
  const blob = content instanceof Blob ? content : new Blob([content], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function describedBy(id, { hint, error } = {}) {
  const ids = [];
  if (hint) ids.push(`${id}-hint`);
  if (error) ids.push(`${id}-error`);
  return ids.length ? ids.join(' ') : undefined;
}

export function PageTitle({ children }) {
  return html`<h1 id="page-title" tabindex="-1">${children}</h1>`;
}

export function Loading() {
  return html`<p class="loading" role="status">${t('common.loading')}</p>`;
}

export function ErrorBox({ error, title }) {
  const ref = useRef(null);
  useEffect(() => {
    if (error && ref.current) announce(ref.current.textContent, { assertive: true });
  }, [error]);
  if (!error) return null;
  // A problem from the API carries the server's (English) detail; an error in the page
  // (e.g. WebCrypto refusing) has only its message, shown as such.
  const fromServer = error instanceof ApiProblem;
  const detail = fromServer ? error.detail : String(error.message || error);
  return html`<div class="error-box" role="alert" ref=${ref}>
    <p class="error-title">${title || problemText(error)}</p>
    ${title ? html`<p>${problemText(error)}</p>` : null}
    ${detail ? html`<p class="error-detail"><span class="label">${fromServer ? t('common.server-says') : t('common.browser-says')}</span> <span lang="en">${detail}</span></p>` : null}
  </div>`;
}

export function ErrorSummary({ errors, title }) {
  const ref = useRef(null);
  const has = errors && errors.length > 0;
  useEffect(() => {
    if (has && ref.current) ref.current.focus();
  }, [errors]);
  if (!has) return null;
  return html`<div class="error-summary" role="alert" tabindex="-1" ref=${ref} aria-labelledby="error-summary-title">
    <h2 id="error-summary-title">${title || t('common.error-summary.title')}</h2>
    <ul>
      ${errors.map((e) => html`<li>${e.id
        ? html`<a href=${`#${e.id}`} onClick=${(ev) => { ev.preventDefault(); const el = document.getElementById(e.id); if (el) el.focus(); }}>${e.text}</a>`
        : e.text}</li>`)}
    </ul>
  </div>`;
}

export function Field({ id, label, hint, error, children, className }) {
  return html`<div class=${`field${error ? ' field-error' : ''}${className ? ` ${className}` : ''}`}>
    <label for=${id}>${label}</label>
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
    ${error ? html`<p class="error-text" id=${`${id}-error`}><span class="visually-hidden">${t('common.error')}: </span>${error}</p>` : null}
    ${children}
  </div>`;
}

export function useFieldErrors(labels) {
  const [errors, setErrors] = useState({});
  const [summary, setSummary] = useState([]);
  const show = (map, extra) => {
    setErrors(map);
    const list = Object.entries(map).map(([id, text]) => ({ id, text: html`${labels[id]}: ${text}` }));
    if (extra) list.unshift(extra);
    setSummary(list);
  };
  const refused = (err, fieldOf) => {
    const detail = err instanceof ApiProblem && err.detail ? html` <span class="error-detail" lang="en">(${err.detail})</span>` : null;
    const at = err instanceof ApiProblem && err.status !== 401 ? fieldOf(err) : null;
    if (at) show({ [at[0]]: html`${at[1]}${detail}` });
    else show({}, { id: null, text: html`${problemText(err)}${detail}` });
  };
  return { errors, summary, show, refused };
}

export function CopyBox({ id, label, value, describedBy: described, className, texts }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // No clipboard permission: select the text so Ctrl+C copies it.
      const input = document.getElementById(id);
      input.focus();
      input.select();
      announce(texts.select);
      return;
    }
    setCopied(true);
    announce(texts.copied);
  };
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <div class="link-box">
      <input id=${id} class=${className || undefined} type="text" readonly value=${value} onFocus=${(e) => e.currentTarget.select()}
        autocomplete="off" spellcheck="false" aria-describedby=${described} />
      <button type="button" onClick=${copy}>${copied ? texts.copiedButton : texts.copy}</button>
    </div>
  </div>`;
}

export function ConfirmPanel({ id, question, explain, yes, onYes, onCancel }) {
  const ref = useRef(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => { if (ref.current) ref.current.focus(); }, []);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await onYes();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<div class="notice confirm-panel" role="group" tabindex="-1" ref=${ref} aria-labelledby=${`${id}-title`}>
    <h3 id=${`${id}-title`}>${question}</h3>
    <p>${explain}</p>
    <${ErrorBox} error=${error} />
    <div class="actions">
      <button type="button" class="danger" disabled=${busy} onClick=${run}>${yes}</button>
      <button type="button" class="secondary" disabled=${busy} onClick=${onCancel}>${t('common.cancel')}</button>
    </div>
  </div>`;
}

export function StatusTag({ status }) {
  return html`<span class=${`tag tag-${status}`}>${t(`status.${status}`)}</span>`;
}

export function Facts({ items }) {
  return html`<dl class="facts">
    ${items.filter(Boolean).map(([term, value]) => html`<div class="fact"><dt>${term}</dt><dd>${value}</dd></div>`)}
  </dl>`;
}

export function DataTable({ caption, columns, rows, className }) {
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${caption}>
    <table class=${className || ''}>
      <caption>${caption}</caption>
      <thead><tr>${columns.map((c) => html`<th scope="col" class=${c.numeric ? 'num' : ''}>${c.label}</th>`)}</tr></thead>
      <tbody>
        ${rows.map((r) => html`<tr>${columns.map((c, i) => (i === 0
          ? html`<th scope="row">${r[c.key]}</th>`
          : html`<td class=${c.numeric ? 'num' : ''}>${r[c.key]}</td>`))}</tr>`)}
      </tbody>
    </table>
  </div>`;
}

let chartSeq = 0;
// Each row is its label on one line and the bar with its value below it, so the chart stays
// readable from 320px phones to laptops without sideways scrolling.
export function BarChart({ title, rows, format = String, max, valueLabel }) {
  const id = useMemo(() => `chart-${++chartSeq}`, []);
  const top = max || Math.max(1, ...rows.map((r) => r.value));
  const width = 360;
  const plotW = 270;
  const rowH = 50;
  const height = rows.length * rowH + 6;
  return html`<figure class="chart">
    <figcaption id=${`${id}-title`}>${title}</figcaption>
    <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-labelledby=${`${id}-title`} aria-describedby=${`${id}-table`} preserveAspectRatio="xMinYMin meet">
      ${rows.map((r, i) => {
        const y = 4 + i * rowH;
        const w = Math.max(0, Math.round((r.value / top) * plotW));
        return html`<g>
          <text x="0" y=${y + 13} class="chart-label">${r.label}</text>
          <rect x="0" y=${y + 20} width=${plotW} height="22" class="chart-track" />
          <rect x="0" y=${y + 20} width=${w} height="22" class=${`chart-bar ${r.className || ''}`} />
          <text x=${w + 6} y=${y + 36} class="chart-value">${format(r.value)}</text>
        </g>`;
      })}
    </svg>
    <div class="visually-hidden" id=${`${id}-table`}><table>
      <caption>${title}</caption>
      <thead><tr><th scope="col">${t('chart.item')}</th><th scope="col">${valueLabel || t('chart.value')}</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr><th scope="row">${r.label}</th><td>${format(r.value)}</td></tr>`)}</tbody>
    </table></div>
  </figure>`;
}
