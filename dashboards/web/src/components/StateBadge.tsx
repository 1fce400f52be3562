import type { JSX } from "preact";
import { STATE_LABELS } from "../format";

export function StateBadge({ state }: { state: string }): JSX.Element {
  const label = STATE_LABELS[state as keyof typeof STATE_LABELS] ?? state;
  return (
    <span class={`badge badge-${state}`} data-state={state}>
      {label}
    </span>
  );
}
