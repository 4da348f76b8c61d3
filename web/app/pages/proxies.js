// Proxies (volmachten) for one proposal (issue §5): grant one to another board on the roll,
// withdraw it, see the proxies this board holds and vote for a grantor. Grants and
// withdrawals are statements signed in this browser, like ballots, with their receipt checked.
import { html, useState, useRef, useEffect, PageTitle, Loading, ErrorBox, ErrorSummary, Field, describedBy, useLoad, useTitle, announce, Facts } from '../ui.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { href } from '../router.js';
import * as fmt from '../fmt.js';
import * as crypto from '../crypto.js';
import { loadProposal, rollEntry } from './proposal.js';
import { loadSigner, sign, nonce, nowUtc } from './keys.js';
import { ReceiptPanel } from './receipt.js';

// Names of boards: the roll has ids and numbers only. Read every member once (pages of 500).
let membersCache = null;
async function allMembers() {
  if (membersCache) return membersCache;
  const map = new Map();
  for (let offset = 0; ; offset += 500) {
    const page = await api.get(`/api/v1/members?limit=500&offset=${offset}`);
    for (const m of page.items) map.set(m.id, m);
    if (page.items.length === 0 || offset + page.items.length >= page.total) break;
  }
  membersCache = map;
  return map;
}

async function load(me, id) {
  const [prop, signer, proxies, members] = await Promise.all([
    loadProposal(id), loadSigner(me.member.id), api.get(`/api/v1/proposals/${encodeURIComponent(id)}/proxies`), allMembers(),
  ]);
  return { ...prop, signer, proxies, members };
}

const norm = (s) => (s || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();

function boardName(members, id, roll) {
  const m = members.get(id);
  const entry = roll && roll.find((r) => r.member === id);
  const num = m ? m.bg_number : entry && entry.bg_number;
  return m ? `${m.name} (${num})` : String(num || id);
}

function Confirm({ statement, words, busy, error, onSign, onCancel, signLabel }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.focus(); }, []);
  const text = new TextDecoder().decode(crypto.canonicalBytes(statement));
  return html`<div class="notice">
    <h2 tabindex="-1" ref=${ref}>${t('proxies.confirm.heading')}</h2>
    <p><strong>${words}</strong></p>
    <h3 id="proxy-statement-heading">${t('vote.confirm.statement')}</h3>
    <p class="hint">${t('vote.confirm.statement-hint')}</p>
    <pre class="statement" role="region" tabindex="0" aria-labelledby="proxy-statement-heading">${text}</pre>
    <${ErrorBox} error=${error} />
    <div class="actions">
      <button type="button" onClick=${onSign} disabled=${busy}>${busy ? t('vote.submit.busy') : signLabel}</button>
      <button type="button" class="secondary" onClick=${onCancel} disabled=${busy}>${t('common.cancel')}</button>
    </div>
  </div>`;
}

function GrantForm({ me, doc, members, onPick }) {
  const [q, setQ] = useState('');
  const [picked, setPicked] = useState('');
  const [errors, setErrors] = useState([]);
  const candidates = doc.voter_roll.filter((r) => r.member !== me.member.id);
  const nq = norm(q.trim());
  const matches = nq.length < 2 ? [] : candidates.filter((r) => {
    const m = members.get(r.member);
    return String(r.bg_number).includes(nq) || (m && norm(m.name).includes(nq));
  }).slice(0, 10);

  function submit(e) {
    e.preventDefault();
    if (!picked) {
      setErrors([{ id: matches.length ? `holder-${matches[0].member}` : 'proxy-search', text: t('proxies.grant.error-pick') }]);
      return;
    }
    setErrors([]);
    onPick(picked);
  }
  return html`<form onSubmit=${submit} novalidate>
    <${ErrorSummary} errors=${errors} />
    <${Field} id="proxy-search" label=${t('proxies.grant.search')} hint=${t('proxies.grant.search-hint')}>
      <input type="search" id="proxy-search" value=${q} autocomplete="off" aria-describedby="proxy-search-hint"
        onInput=${(e) => { setQ(e.currentTarget.value); setPicked(''); }} />
    <//>
    <p class="meta" role="status">${nq.length < 2 ? '' : t('proxies.grant.matches', { n: fmt.number(matches.length) })}</p>
    ${matches.length ? html`<fieldset>
      <legend>${t('proxies.grant.pick')}</legend>
      ${matches.map((r) => html`<div class="radio">
        <input type="radio" name="holder" id=${`holder-${r.member}`} value=${r.member} checked=${picked === r.member} onChange=${() => setPicked(r.member)} />
        <label for=${`holder-${r.member}`}>${boardName(members, r.member, doc.voter_roll)}</label>
      </div>`)}
    </fieldset>` : null}
    <div class="actions"><button type="submit">${t('proxies.grant.continue')}</button></div>
  </form>`;
}

export function ProxiesPage({ me, params }) {
  useTitle(t('proxies.title'));
  const memberId = me.member && me.member.id;
  const { data, error, loading, reload } = useLoad(() => (memberId ? load(me, params.id) : null), [params.id]);
  const [pending, setPending] = useState(null); // {statement, words, kind}
  const [busy, setBusy] = useState(false);
  const [actError, setActError] = useState(null);
  const [done, setDone] = useState(null);

  if (!memberId) return html`<section><${PageTitle}>${t('proxies.title')}<//><p>${t('vote.board-only')}</p></section>`;
  if (loading && !data) return html`<section><${PageTitle}>${t('proxies.title')}<//><${Loading} /></section>`;
  if (error) return html`<section><${PageTitle}>${t('proxies.title')}<//><${ErrorBox} error=${error} /></section>`;

  const { p, doc, digestOk, signer, proxies, members } = data;
  const isOpen = p.status === 'open';
  const active = proxies.filter((x) => x.revoked_entry === undefined || x.revoked_entry === null);
  const granted = active.find((x) => x.grantor === memberId);
  const held = active.filter((x) => x.holder === memberId);
  const onRoll = Boolean(rollEntry(doc, memberId));
  const name = (id) => boardName(members, id, doc && doc.voter_roll);

  function prepare(kind, holder) {
    setActError(null);
    setDone(null);
    const statement = {
      type: kind === 'grant' ? 'mandaat.proxy.v1' : 'mandaat.proxy-revocation.v1',
      proposal: p.id, proposal_digest: p.digest, grantor: memberId, holder, nonce: nonce(), signed_at: nowUtc(),
    };
    const words = kind === 'grant'
      ? t('proxies.confirm.grant', { holder: name(holder), title: p.spec.title })
      : t('proxies.confirm.withdraw', { holder: name(holder), title: p.spec.title });
    setPending({ statement, words, kind });
  }

  async function signAndSend() {
    setBusy(true);
    setActError(null);
    try {
      const wire = await sign(signer.record, pending.statement);
      const res = await api.post(`/api/v1/proposals/${p.id}/proxies`, wire);
      setDone({ wire, receipt: res.receipt, kind: pending.kind });
      setPending(null);
      announce(pending.kind === 'grant' ? t('proxies.granted') : t('proxies.withdrawn'));
      reload();
    } catch (err) {
      setActError(err);
    } finally {
      setBusy(false);
    }
  }

  let mine;
  if (!isOpen) mine = html`<p>${t('proxies.not-open')}</p>`;
  else if (!onRoll) mine = html`<p>${t('vote.blocked.not-on-roll')}</p>`;
  else if (digestOk !== true) mine = html`<p>${t('vote.blocked.digest')}</p>`;
  else if (!signer.usable) mine = html`<div class="warning"><p>${t('vote.blocked.no-key')}</p><p><a href=${href('/keys')}>${t('vote.blocked.to-keys')}</a></p></div>`;
  else if (pending) {
    mine = html`<${Confirm} statement=${pending.statement} words=${pending.words} busy=${busy} error=${actError}
      signLabel=${pending.kind === 'grant' ? t('proxies.grant.sign') : t('proxies.withdraw.sign')}
      onSign=${signAndSend} onCancel=${() => setPending(null)} />`;
  } else if (granted) {
    mine = html`<p>${t('proxies.granted-to', { holder: name(granted.holder), when: fmt.dateTime(granted.granted_at) })}</p>
      <p class="meta">${t('proxies.own-vote-prevails')}</p>
      <div class="actions"><button type="button" class="secondary" onClick=${() => prepare('withdraw', granted.holder)}>${t('proxies.withdraw.button')}</button></div>`;
  } else {
    mine = html`<p>${t('proxies.grant.explain')}</p><${GrantForm} me=${me} doc=${doc} members=${members} onPick=${(h) => prepare('grant', h)} />`;
  }

  return html`<section>
    <${PageTitle}>${t('proxies.heading', { title: p.spec.title })}<//>
    <p><a href=${href(`/proposals/${p.id}`)}>${t('vote.back-to-proposal')}</a></p>
    ${done ? html`<${ReceiptPanel} wire=${done.wire} receipt=${done.receipt} kind="proxy" publicKey=${signer.record.publicRaw} />` : null}
    <h2>${t('proxies.mine.heading')}</h2>
    ${mine}
    <h2>${t('proxies.held.heading')}</h2>
    ${held.length === 0 ? html`<p>${t('proxies.held.none')}</p>` : html`<ul class="cards">
      ${held.map((x) => html`<li class="card">
        <p><strong>${name(x.grantor)}</strong></p>
        <p class="meta">${t('proxies.held.since', { when: fmt.dateTime(x.granted_at) })}</p>
        ${isOpen && signer.usable ? html`<p><a class="button" href=${href(`/proposals/${p.id}/vote/${x.grantor}`)}>${t('proxies.held.vote', { grantor: (members.get(x.grantor) || {}).name || x.grantor })}</a></p>` : null}
      </li>`)}
    </ul>`}
  </section>`;
}
