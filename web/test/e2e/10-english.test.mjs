// A board that prefers English: signs in, switches the language (remembered), registers
// its key and votes on a resolution, everything read from the English message files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  flow, launch, step, name, contains, member, seedOpenProposal, serverNow, rfc3339,
  assertAccessible, assertNoPageProblems,
} from './lib.mjs';
import {
  heading, signIn, switchLanguage, registerKey, openProposalPage, toVotePage, confirmAndSign,
} from './steps.mjs';

const VO = member(41004);
const title = `Contributie 2027 (${Date.now().toString(36)})`;
let browser;
let board;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

flow('a board signs in and switches to English, which is remembered', async () => {
  board = await signIn(browser, { who: 'Emma Clarke', role: 'board', member: VO, stepName: 'board-signed-in' });
  await switchLanguage(board, 'en');
  await heading(board, 'home.welcome', { name: 'Emma Clarke' }).waitFor();
  await step(board.page, 'home', 'en');
  await board.page.reload();
  await heading(board, 'home.welcome', { name: 'Emma Clarke' }).waitFor();
  assert.equal(await board.page.locator('html').getAttribute('lang'), 'en');
});

flow('in English: key registered, a resolution voted on, the receipt verified', async () => {
  await registerKey(board, 'Office laptop');
  const now = await serverNow();
  await seedOpenProposal({
    title,
    description: 'Proposal to the members council',
    kind: 'resolution',
    electorate: { sectors: ['VO'], weighting: 'one-member-one-vote', quorum: '0/1', majority: { kind: 'more-than', fraction: '1/2' }, chamber_rule: false },
    opens_at: rfc3339(new Date(now.getTime() - 60_000)),
    closes_at: rfc3339(new Date(now.getTime() + 7 * 86_400_000)),
  });
  await openProposalPage(board, title);
  await board.page.getByText(contains('en', 'proposal.resolution.explain')).waitFor();
  await step(board.page, 'proposal', 'en');
  await toVotePage(board, title);
  await board.page.getByRole('radio', { name: name('en', 'vote.choice.abstain') }).check();
  await confirmAndSign(board, 'vote-resolution');
});

test('no uncaught errors or CSP violations, and no serious accessibility violations', () => {
  assertNoPageProblems();
  assertAccessible();
});
