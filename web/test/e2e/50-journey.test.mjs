// The whole journey of issue 7, in Dutch, each person in their own browser context:
// invitation -> signed in -> key created and registered -> a board drafts a mandate that
// the secretariat opens -> votes on a mandate, a priority (keyboard only) and a resolution,
// each receipt verified in the page -> vote again -> a proxy granted and used ->
// the server clock moves past closing, the secretariat closes and finalises -> results
// with charts.
//
// This file moves the server's clock forward at the end, so it runs last (node --test
// runs files in name order with --test-concurrency=1): later statements signed with the
// browser's clock would be refused as clock skew.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  flow, launch, step, t, name, contains, member, apiOk, seedOpenProposal,
  serverNow, advanceClock, rfc3339, assertAccessible, assertNoPageProblems,
} from './lib.mjs';
import {
  heading, signIn, registerKey, draftMandate, openProposalPage, lifecycle,
  toVotePage, confirmAndSign, tabTo, shownStatement, receiptVerified,
} from './steps.mjs';

const A = member(41001); // PO, drafts the mandate and votes on everything
const B = member(41002); // PO, grants a proxy to A on the resolution
const run = Date.now().toString(36);

let browser;
let admin; // the secretariat, signed in through its own invitation
let boardA;
let boardB;
let windowEnd; // closes_at of every proposal in this journey
const proposals = {}; // kind -> {id, title}

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

flow('the secretariat and two boards sign in with their invitation links', async () => {
  admin = await signIn(browser, { who: 'Sanne Secretariaat', role: 'admin', stepName: 'admin-signed-in' });
  boardA = await signIn(browser, { who: 'Anouk de Vries', role: 'board', member: A, stepName: 'board-signed-in' });
  await boardA.page.getByText(A.name).first().waitFor();
  boardB = await signIn(browser, { who: 'Bram Jansen', role: 'board', member: B, stepName: 'second-board-signed-in' });
});

flow('each board creates its key in the browser and registers it', async () => {
  await registerKey(boardA, 'Laptop secretariaat Noord');
  await registerKey(boardB, 'Werkplek bestuursbureau Zuid');
  const keys = await apiOk('GET', `/api/v1/members/${A.id}/keys`, 200);
  const list = keys.items || keys;
  assert.equal(list.filter((k) => k.status === 'active').length, 1, `one active key for board A: ${JSON.stringify(keys)}`);
});

flow('a board drafts a mandate in the browser and the secretariat opens it', async () => {
  const now = await serverNow();
  windowEnd = new Date(Math.ceil((now.getTime() + 25 * 60_000) / 60_000) * 60_000);
  const mandate = {
    title: `Magister 2027: maximaal tarief (${run})`,
    description: 'Mandaat voor de onderhandelingen met Iddink over Magister.',
    supplier: 'Iddink',
    product: 'Magister',
    modules: ['roosters', 'cijfers'],
    maxTerm: 36,
    param: { label: 'Maximale prijsstijging', name: 'max-increase', unit: 'basis-points', min: 0, max: 3000 },
  };
  const id = await draftMandate(boardA, mandate, { opens: new Date(now.getTime() - 2 * 60_000), closes: windowEnd });
  proposals.mandate = { id, title: mandate.title };
  const draft = await apiOk('GET', `/api/v1/proposals/${id}`, 200);
  assert.equal(draft.status, 'draft');
  assert.equal(draft.spec.mandate.supplier, 'Iddink');
  assert.deepEqual(draft.spec.mandate.parameters[0], { name: 'max-increase', label: mandate.param.label, unit: 'basis-points', min: 0, max: 3000 });
  assert.equal(new Date(draft.spec.closes_at).getTime(), windowEnd.getTime(), `the window typed in Amsterdam time arrives as this instant: ${draft.spec.closes_at}`);

  await openProposalPage(admin, mandate.title);
  await step(admin.page, 'admin-sees-draft', admin.lang);
  await lifecycle(admin, 'open', 'admin-opened-mandate');
  const opened = await apiOk('GET', `/api/v1/proposals/${id}`, 200);
  assert.equal(opened.status, 'open');

  // The board sees it open, in plain words, with its entry on the frozen roll.
  await openProposalPage(boardA, mandate.title);
  await boardA.page.getByText(contains('nl', 'proposal.demand.term', { months: 36 })).waitFor();
  await boardA.page.getByRole('heading', { name: name('nl', 'proposal.roll.heading') }).waitFor();
  await step(boardA.page, 'board-sees-open-mandate', 'nl');
});

flow('seed: a priority and a resolution, opened through the API', async () => {
  const now = await serverNow();
  const common = {
    description: 'Voorstel aan de ledenraad',
    electorate: { sectors: ['PO'], weighting: 'pupils', quorum: '1/4', majority: { kind: 'more-than', fraction: '1/2' }, chamber_rule: false },
    opens_at: rfc3339(new Date(now.getTime() - 60_000)),
    closes_at: rfc3339(windowEnd),
  };
  const priority = {
    ...common,
    title: `Aanbestedingen 2027: volgorde (${run})`,
    kind: 'priority',
    priority: { options: [
      { id: 'devices', label: 'Laptops en tablets' },
      { id: 'connectivity', label: 'Internetverbinding' },
      { id: 'lms', label: 'Leerplatform' },
    ] },
  };
  const resolution = { ...common, title: `Jaarrekening 2026 vaststellen (${run})`, kind: 'resolution' };
  proposals.priority = { ...(await seedOpenProposal(priority)), title: priority.title, options: priority.priority.options };
  proposals.resolution = { ...(await seedOpenProposal(resolution)), title: resolution.title };
});

flow('a board votes yes on the mandate with a value, checks the statement and sees its receipt verified', async () => {
  const { page } = boardA;
  await openProposalPage(boardA, proposals.mandate.title);
  await toVotePage(boardA, proposals.mandate.title);
  await step(page, 'vote-mandate-form', 'nl');
  await page.getByRole('radio', { name: name('nl', 'vote.choice.yes-mandate') }).check();
  // Out of range first: refused in the page before anything is signed.
  const value = page.getByRole('textbox', { name: 'Maximale prijsstijging' });
  await value.fill('4000');
  await page.getByRole('button', { name: name('nl', 'vote.to-confirm') }).click();
  await page.getByText(contains('nl', 'vote.error.param-range', { label: 'Maximale prijsstijging' })).first().waitFor();
  await step(page, 'vote-mandate-out-of-range', 'nl');
  await value.fill('250');
  await page.getByRole('button', { name: name('nl', 'vote.to-confirm') }).click();
  await page.getByRole('heading', { name: name('nl', 'vote.confirm.heading') }).waitFor();
  const statement = await shownStatement(boardA);
  assert.equal(statement.type, 'mandaat.ballot.v1');
  assert.equal(statement.proposal, proposals.mandate.id);
  assert.equal(statement.voter, A.id);
  assert.equal(statement.for, A.id);
  assert.deepEqual(statement.choice, { vote: 'yes', parameters: { 'max-increase': 250 } });
  await step(page, 'vote-mandate-confirm', 'nl');
  await page.getByRole('button', { name: name('nl', 'vote.submit.button') }).click();
  await receiptVerified(boardA, 'ballot');
  await step(page, 'vote-mandate-receipt', 'nl');

  // The receipt downloads as the file `mandaat receipt verify` checks offline.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: name('nl', 'receipt.download') }).click(),
  ]);
  const file = JSON.parse(await (await import('node:fs/promises')).readFile(await download.path(), 'utf8'));
  assert.equal(file.format, 'mandaat.receipt.v1');
  assert.ok(file.log_key && file.entry && file.receipt, `receipt file: ${JSON.stringify(file).slice(0, 300)}`);
});

flow('the board votes again on the mandate, and the new vote is the one that counts', async () => {
  const { page } = boardA;
  await page.getByRole('button', { name: name('nl', 'vote.done.again') }).click();
  await page.getByRole('radio', { name: name('nl', 'vote.choice.yes-mandate') }).check();
  await page.getByRole('textbox', { name: 'Maximale prijsstijging' }).fill('300');
  await confirmAndSign(boardA, 'vote-mandate-again');
  await page.getByText(contains('nl', 'vote.done.received')).waitFor();
  assert.equal(await page.getByText(contains('nl', 'vote.done.not-counting')).count(), 0, 'the own vote counts');
});

flow('a board ranks the priority with the keyboard alone', async () => {
  const { page } = boardA;
  const [devices, connectivity, lms] = proposals.priority.options;
  await openProposalPage(boardA, proposals.priority.title);
  await toVotePage(boardA, proposals.priority.title);
  await step(page, 'vote-priority-form', 'nl');
  // From the top of the page: Tab to each control and press Enter/Space; no mouse.
  const press = async (locator, what, key = 'Enter') => {
    await tabTo(page, locator, what);
    await page.keyboard.press(key);
  };
  const button = (key, option) => page.getByRole('button', { name: name('nl', key, { option: option.label }) });
  await page.getByRole('heading', { level: 1 }).focus();
  await press(button('vote.rank.add-label', devices), `"add ${devices.label}"`);
  await press(button('vote.rank.add-label', lms), `"add ${lms.label}"`);
  await press(button('vote.rank.add-label', connectivity), `"add ${connectivity.label}"`);
  // connectivity third -> first: two moves up, with focus staying on the moved option.
  await press(button('vote.rank.up-label', connectivity), `"up ${connectivity.label}"`);
  const up = button('vote.rank.up-label', connectivity);
  if (!(await up.evaluate((el) => el === document.activeElement))) await tabTo(page, up, 'the same up button');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: contains('nl', 'vote.rank.moved', { option: connectivity.label, position: 1 }) })
    .or(page.locator('#live-polite').filter({ hasText: contains('nl', 'vote.rank.moved', { option: connectivity.label, position: 1 }) }))
    .first().waitFor();
  await step(page, 'vote-priority-ranked-by-keyboard', 'nl');
  await press(page.getByRole('button', { name: name('nl', 'vote.to-confirm') }), 'the confirm button');
  await page.getByRole('heading', { name: name('nl', 'vote.confirm.heading') }).waitFor();
  const statement = await shownStatement(boardA);
  assert.deepEqual(statement.choice, { ranking: ['connectivity', 'devices', 'lms'] }, 'the ranking made with the keyboard');
  await step(page, 'vote-priority-confirm', 'nl');
  await press(page.getByRole('button', { name: name('nl', 'vote.submit.button') }), 'the sign button');
  await receiptVerified(boardA, 'ballot');
  await step(page, 'vote-priority-receipt', 'nl');
});

flow('a board votes on the resolution', async () => {
  const { page } = boardA;
  await openProposalPage(boardA, proposals.resolution.title);
  await toVotePage(boardA, proposals.resolution.title);
  await page.getByRole('radio', { name: name('nl', 'vote.choice.yes') }).check();
  await confirmAndSign(boardA, 'vote-resolution');
});

flow('a board grants a proxy to another board, which votes for it', async () => {
  // B grants A a proxy on the resolution; A then votes for B.
  const { page } = boardB;
  const title = proposals.resolution.title;
  await openProposalPage(boardB, title);
  await page.getByRole('link', { name: name('nl', 'proposal.action.proxies') }).click();
  await heading(boardB, 'proxies.heading', { title }).waitFor();
  await page.getByRole('searchbox', { name: name('nl', 'proxies.grant.search') }).fill(A.name.split(' ').slice(-2).join(' '));
  await page.getByRole('radio', { name: new RegExp(A.name) }).check();
  await step(page, 'proxy-grant-pick', 'nl');
  await page.getByRole('button', { name: name('nl', 'proxies.grant.continue') }).click();
  await page.getByRole('heading', { name: name('nl', 'proxies.confirm.heading') }).waitFor();
  await page.getByText(contains('nl', 'proxies.confirm.grant', { title })).waitFor();
  await step(page, 'proxy-grant-confirm', 'nl');
  await page.getByRole('button', { name: name('nl', 'proxies.grant.sign') }).click();
  await receiptVerified(boardB, 'proxy');
  await page.getByText(contains('nl', 'proxies.granted-to')).waitFor();
  await step(page, 'proxy-granted', 'nl');

  // A sees the proxy it holds and votes for B.
  const a = boardA.page;
  await openProposalPage(boardA, title);
  await a.getByRole('link', { name: name('nl', 'proposal.action.proxies') }).click();
  await heading(boardA, 'proxies.heading', { title }).waitFor();
  await step(a, 'proxies-held', 'nl');
  await a.getByRole('link', { name: name('nl', 'proxies.held.vote', { grantor: B.name }) }).click();
  await heading(boardA, 'vote.heading', { title }).waitFor();
  await a.getByText(contains('nl', 'vote.for.proxy', { grantor: B.name, board: A.name })).waitFor();
  await a.getByRole('radio', { name: name('nl', 'vote.choice.no') }).check();
  await a.getByRole('button', { name: name('nl', 'vote.to-confirm') }).click();
  await a.getByRole('heading', { name: name('nl', 'vote.confirm.heading') }).waitFor();
  const statement = await shownStatement(boardA);
  assert.equal(statement.voter, A.id);
  assert.equal(statement.for, B.id, 'the ballot is for the grantor');
  await step(a, 'proxy-vote-confirm', 'nl');
  await a.getByRole('button', { name: name('nl', 'vote.submit.button') }).click();
  await receiptVerified(boardA, 'ballot');
  assert.equal(await a.getByText(contains('nl', 'vote.done.not-counting')).count(), 0, 'the proxy vote counts');
  await step(a, 'proxy-vote-receipt', 'nl');
});

flow('before closing only the turnout is shown', async () => {
  const { page } = boardA;
  await openProposalPage(boardA, proposals.resolution.title);
  await page.getByRole('link', { name: name('nl', 'proposal.action.turnout') }).click();
  await page.getByRole('heading', { name: name('nl', 'results.turnout.heading') }).waitFor();
  await page.getByText(name('nl', 'results.turnout.only')).waitFor();
  assert.equal(await page.getByRole('heading', { name: contains('nl', 'results.outcome') }).count(), 0, 'no outcome before closing');
  await step(page, 'turnout-before-close', 'nl');
});

flow('the clock passes closing time; the secretariat closes and finalises each proposal', async () => {
  const now = await serverNow();
  const seconds = Math.ceil((windowEnd.getTime() - now.getTime()) / 1000) + 60;
  assert.ok(seconds > 0 && seconds < 3600, `closing is ${seconds} s away`);
  const moved = await advanceClock(seconds);
  assert.ok(moved > windowEnd, 'the server clock is past closes_at');
  for (const kind of ['mandate', 'priority', 'resolution']) {
    await openProposalPage(admin, proposals[kind].title);
    await lifecycle(admin, 'close', `admin-closed-${kind}`);
    await lifecycle(admin, 'finalize', `admin-finalised-${kind}`);
    const p = await apiOk('GET', `/api/v1/proposals/${proposals[kind].id}`, 200);
    assert.equal(p.status, 'final', `${kind} is final`);
  }
});

flow('the board reads each result, with charts and tables', async () => {
  const { page } = boardA;
  for (const kind of ['mandate', 'priority', 'resolution']) {
    await openProposalPage(boardA, proposals[kind].title);
    await page.getByRole('link', { name: name('nl', 'proposal.action.results') }).click();
    await heading(boardA, 'results.heading', { title: proposals[kind].title }).waitFor();
    await page.getByRole('heading', { name: name('nl', 'results.outcome', { outcome: t('nl', 'outcome.adopted') }) }).waitFor();
    const charts = page.locator('main figure svg[role="img"]');
    await charts.first().waitFor();
    assert.ok(await charts.count() >= 1, `${kind}: at least one chart`);
    for (const svg of await charts.all()) {
      assert.ok(await svg.isVisible(), `${kind}: chart visible`);
      const label = await svg.evaluate((el) => el.getAttribute('aria-labelledby'));
      assert.ok(label, `${kind}: each chart is labelled`);
    }
    assert.ok(await page.locator('main table').count() >= 1, `${kind}: tables for screen readers`);
    await step(page, `results-${kind}`, 'nl');
  }
  // The CSV of all results this board may see.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: name('nl', 'results.csv') }).click(),
  ]);
  const csv = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
  assert.match(csv, /^proposal,title,kind,status,closed_at,outcome/, `the CSV header: ${csv.slice(0, 200)}`);
  for (const kind of ['mandate', 'priority', 'resolution']) {
    assert.ok(csv.includes(proposals[kind].id), `the CSV lists the ${kind}`);
  }
  const result = await apiOk('GET', `/api/v1/proposals/${proposals.mandate.id}/result`, 200);
  const agreed = JSON.stringify(result);
  assert.match(agreed, /"agreed":300/, `the mandate's agreed value is the board's last vote: ${agreed.slice(0, 400)}`);
  const resolution = await apiOk('GET', `/api/v1/proposals/${proposals.resolution.id}/result`, 200);
  assert.equal(resolution.tally?.voted?.members ?? resolution.voted?.members, 2, 'A and B (by proxy) voted on the resolution');
});

test('no uncaught errors or CSP violations, and no serious accessibility violations', () => {
  assertNoPageProblems();
  assertAccessible();
});

