// Placeholder until the admin helper provides this page; it only says it is not there yet.
import { html } from '../ui.js';
import { t } from '../i18n.js';

export function CouncilResultsPage() {
  return html`<div class="placeholder"><h1 id="page-title" tabindex="-1">${t('common.not-yet-available')}</h1></div>`;
}
