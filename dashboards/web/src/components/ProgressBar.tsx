import type { JSX } from "preact";
import { percent } from "../format";

export function ProgressBar({ fraction, label }: { fraction: number; label: string }): JSX.Element {
  const value = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
  return (
    <div class="progress">
      <progress max={100} value={value} aria-label={label} />
      <span class="progress-value">{percent(fraction)}</span>
    </div>
  );
}
