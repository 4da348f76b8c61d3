// The page verifies receipts itself: a tampered receipt, or a log that cannot be shown
// consistent with the checkpoint this browser pinned, is shown as a failure naming the
// check; an honest answer afterwards verifies again.
import { test, before, after } from 'node:test';
import {
  flow, launch, step, name, member, seedOpenProposal, serverNow, rfc3339,
  assertAccessible, assertNoPageProblems,
} from './lib.mjs';
import {
  signIn, registerKey, openProposalPage, toVotePage, receiptVerified, receiptFailed,
} from './steps.mjs';

const board = member(41006);
const title = `Statutenwijziging (${Date.now().toString(36)})`;
let browser;
let p;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Flips the lowest bit of the first byte of a base64 hash. */
function flip(b64) {
  const bytes = Buffer.from(b64, 'base64');
  bytes[0] ^= 1;
  return bytes.toString('base64');
}

async function voteYes(stepName) {
  const { page } = p;
  await openProposalPage(p, title);
  await toVotePage(p, title);
  await page.getByRole('radio', { name: name('nl', 'vote.choice.yes') }).check();
  await page.getByRole('button', { name: name('nl', 'vote.to-confirm') }).click();
  await page.getByRole('heading', { name: name('nl', 'vote.confirm.heading') }).waitFor();
  await page.getByRole('button', { name: name('nl', 'vote.submit.button') }).click();
  return stepName;
}

flow('setup: a board with a registered key (which pins the log key and a checkpoint)', async () => {
  p = await signIn(browser, { who: 'Ineke Controle', role: 'board', member: board, stepName: 'tamper-board-signed-in' });
  await registerKey(p, 'Controlelaptop');
  const now = await serverNow();
  await seedOpenProposal({
    title, description: 'Wijziging van artikel 12', kind: 'resolution',
    electorate: { sectors: ['PO', 'VO'], weighting: 'one-member-one-vote', quorum: '0/1', majority: { kind: 'at-least', fraction: '2/3' }, chamber_rule: true },
    opens_at: rfc3339(new Date(now.getTime() - 60_000)),
    closes_at: rfc3339(new Date(now.getTime() + 7 * 86_400_000)),
  });
});

flow('a tampered receipt (inclusion proof) is shown as a failure', async () => {
  let tampered = 0;
  await p.page.route('**/api/v1/proposals/*/ballots', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    if (response.status() === 201 && body.receipt?.inclusion_proof?.length) {
      body.receipt.inclusion_proof[0] = flip(body.receipt.inclusion_proof[0]);
      tampered += 1;
    }
    await route.fulfill({ response, json: body });
  });
  await voteYes();
  await receiptFailed(p, 'ballot', 'inclusion');
  if (tampered !== 1) throw new Error(`the receipt was not tampered with (${tampered})`);
  await step(p.page, 'tampered-receipt-failed', 'nl');
  await p.page.unroute('**/api/v1/proposals/*/ballots');
});

flow('a checkpoint not consistent with the pinned one is shown as a failure', async () => {
  let tampered = 0;
  await p.page.route('**/api/v1/log/proof/consistency*', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    if (response.status() === 200 && body.proof?.length) {
      body.proof = body.proof.map(flip);
      tampered += 1;
    }
    await route.fulfill({ response, json: body });
  });
  await voteYes();
  await receiptFailed(p, 'ballot', 'consistency');
  if (tampered !== 1) throw new Error(`the consistency proof was not tampered with (${tampered})`);
  await step(p.page, 'inconsistent-checkpoint-failed', 'nl');
  await p.page.unroute('**/api/v1/log/proof/consistency*');
});

flow('an honest answer afterwards verifies, consistent with the pinned checkpoint', async () => {
  await voteYes();
  await receiptVerified(p, 'ballot');
  await step(p.page, 'honest-receipt-verified', 'nl');
});

test('no uncaught errors or CSP violations, and no serious accessibility violations', () => {
  assertNoPageProblems();
  assertAccessible();
});
