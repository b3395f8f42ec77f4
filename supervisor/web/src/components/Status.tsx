// Status badge (colour + word) and dot, shared by every view.
import { statusLabel } from '../format';

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge st-${status}`} data-status={status}><i class="dot" />{statusLabel(status)}</span>;
}

export function StatusDot({ status }: { status: string }) {
  return <i class={`dot st-${status}`} title={statusLabel(status)} />;
}
