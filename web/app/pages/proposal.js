// First version of the shell: the full page follows in the next commits.
import { html, PageTitle } from '../ui.js';
import { t } from '../i18n.js';

export function ProposalPage() {
  return html`<${PageTitle}>${t('common.not-yet-available')}<//>`;
}
