// Placeholder until the admin helper provides the proposal actions; renders nothing.
export function ProposalAdminActions() {
  return null;
}
