// Pause / resume / cancel / mark bed clear, each behind a confirmation, then followed to the agent's ack.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { messageOf } from "../api/client";
import { command, sendCommand } from "../api/endpoints";
import type { FleetPrinter, PrinterVerb } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";

const ACK_POLL_MS = 1_000;
const ACK_POLL_TRIES = 20;

interface Action {
  verb: PrinterVerb;
  label: string;
  title: string;
  body: string;
  danger?: boolean;
}

function actionsFor(printer: FleetPrinter): Action[] {
  const name = printer.name;
  const file = printer.job?.filename ?? "the current job";
  const actions: Action[] = [];
  if (printer.printer_state === "printing")
    actions.push({ verb: "pause", label: "Pause", title: `Pause ${name}?`, body: `${file} stops where it is and can be resumed.` });
  if (printer.printer_state === "paused")
    actions.push({ verb: "resume", label: "Resume", title: `Resume ${name}?`, body: `${file} continues printing.` });
  if (printer.printer_state === "printing" || printer.printer_state === "paused")
    actions.push({
      verb: "cancel",
      label: "Cancel print",
      title: `Cancel the print on ${name}?`,
      body: `${file} is abandoned. This cannot be undone.`,
      danger: true,
    });
  if (printer.printer_state !== "printing" && printer.printer_state !== "paused")
    actions.push({
      verb: "queue-start",
      label: "Mark bed clear",
      title: `Is the bed of ${name} clear?`,
      body: "The printer may start its next job right away. Make sure the previous print is removed.",
    });
  return actions;
}

export function PrinterControls({ printer, canOperate }: { printer: FleetPrinter; canOperate: boolean }): JSX.Element {
  const [pending, setPending] = useState<Action | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [cmdId, setCmdId] = useState<string | null>(null);

  useEffect(() => {
    if (!cmdId) return;
    let tries = 0;
    const timer = window.setInterval(async () => {
      tries += 1;
      try {
        const out = await command(cmdId);
        if (out.status !== "pending") {
          setStatus(`${out.verb}: ${out.status}${out.message ? ` (${out.message})` : ""}`);
          window.clearInterval(timer);
        }
      } catch (err) {
        setStatus(messageOf(err));
        window.clearInterval(timer);
      }
      if (tries >= ACK_POLL_TRIES) window.clearInterval(timer);
    }, ACK_POLL_MS);
    return () => window.clearInterval(timer);
  }, [cmdId]);

  if (!canOperate) return <p class="muted">Your role can watch this printer but not control it.</p>;

  const confirm = async (action: Action) => {
    setPending(null);
    setStatus(`Sending ${action.label.toLowerCase()}…`);
    try {
      const accepted = await sendCommand(printer.id, action.verb);
      setStatus(`${accepted.verb}: sent, waiting for the printer`);
      setCmdId(accepted.cmd_id);
    } catch (err) {
      setStatus(messageOf(err));
    }
  };

  return (
    <div class="controls">
      <div class="button-row">
        {actionsFor(printer).map((action) => (
          <button
            key={action.verb}
            type="button"
            class={action.danger ? "button button-danger" : "button"}
            disabled={!printer.online}
            onClick={() => setPending(action)}
          >
            {action.label}
          </button>
        ))}
      </div>
      {!printer.online && <p class="muted">The printer is offline: controls come back when it does.</p>}
      <p class="muted" role="status" aria-live="polite">
        {status}
      </p>
      {pending && (
        <ConfirmDialog
          title={pending.title}
          body={pending.body}
          confirmLabel={pending.label}
          danger={pending.danger ?? false}
          onConfirm={() => void confirm(pending)}
          onCancel={() => setPending(null)}
        />
      )}
    </div>
  );
}
