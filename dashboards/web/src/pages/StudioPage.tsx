// The design studio: talk to it about an object (it answers with a design, a question or a refusal),
// see the spec, the printability verdict and the model in 3D, undo, download it, print it on the farm.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { messageOf } from "../api/client";
import { downloadFile } from "../api/http";
import {
  createDesign,
  getDesign,
  listDesigns,
  modelPath,
  modelStl,
  previewPng,
  printDesign,
  sayToDesign,
  undoDesign,
  type DesignDetail,
  type DesignSpec,
  type DesignSummary,
  type Printability,
  type Turn,
} from "../api/studio";
import type { Job } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ModelViewer } from "../components/ModelViewer";
import { useStore, type FleetStore } from "../fleet/store";
import { dateTime } from "../format";
import { Link, navigate } from "../router";

const COUNTS = new Set(["drainage_holes", "holes", "slots", "count", "sides"]);

const paramLabel = (key: string): string => {
  const words = key.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
};

export function paramValue(key: string, value: unknown): string {
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    const shown = Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/\.?0+$/, "");
    if (key.endsWith("_deg")) return `${shown}°`;
    if (COUNTS.has(key) || key.endsWith("_count")) return shown;
    return `${shown} mm`;
  }
  if (value === null || value === undefined) return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function SpecTable({ spec, caption }: { spec: DesignSpec; caption: string }): JSX.Element {
  const rows = Object.entries(spec).filter(([key]) => key !== "family");
  return (
    <table class="table spec-table">
      <caption class="table-caption">{caption}</caption>
      <tbody>
        <tr>
          <th scope="row">Object</th>
          <td data-param="family">{paramLabel(spec.family)}</td>
        </tr>
        {rows.map(([key, value]) => (
          <tr key={key}>
            <th scope="row">{paramLabel(key)}</th>
            <td data-param={key}>{paramValue(key, value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PrintabilityPanel({ verdict }: { verdict: Printability }): JSX.Element {
  return (
    <section class="panel" aria-labelledby="printability-title" data-printable={verdict.ok}>
      <h2 id="printability-title">Printability</h2>
      <p class={verdict.ok ? "verdict verdict-ok" : "verdict verdict-bad"}>
        {verdict.ok ? "✓ Prints as designed" : "✗ Does not print as designed"}
      </p>
      {verdict.issues.length > 0 && (
        <ul class="issues">
          {verdict.issues.map((issue) => (
            <li key={issue.code + issue.message} class={`issue issue-${issue.severity}`}>
              <strong>{issue.severity === "error" ? "Error" : "Warning"}:</strong> {issue.message}
            </li>
          ))}
        </ul>
      )}
      <dl class="facts">
        <div>
          <dt>Volume</dt>
          <dd>{verdict.volume_cm3.toFixed(1)} cm³</dd>
        </div>
        <div>
          <dt>Mass</dt>
          <dd>{verdict.mass_g.toFixed(0)} g</dd>
        </div>
        <div>
          <dt>Filament</dt>
          <dd>{verdict.filament_m.toFixed(1)} m</dd>
        </div>
        <div>
          <dt>Material cost</dt>
          <dd>{verdict.cost.toFixed(2)}</dd>
        </div>
      </dl>
    </section>
  );
}

const KIND_NAMES: Record<string, string> = { question: "Question", refusal: "Cannot do", undo: "Undone" };

function Message({ turn }: { turn: Turn | { role: "user"; text: string; kind: null; seq: number; pending: true } }): JSX.Element {
  const studio = turn.role === "studio";
  const kind = studio ? (turn.kind ?? "spec") : null;
  const note = kind ? KIND_NAMES[kind] : undefined;
  return (
    <li class={`msg msg-${turn.role}${kind ? ` msg-${kind}` : ""}`} data-role={turn.role} data-kind={kind ?? undefined}>
      <p class="msg-who">
        {studio ? "Studio" : "You"}
        {note && <span class={`msg-tag msg-tag-${kind}`}>{note}</span>}
        {"pending" in turn && <span class="muted"> · sending…</span>}
      </p>
      <p class="msg-text">{turn.text}</p>
    </li>
  );
}

function Composer({ busy, onSend, placeholder }: { busy: boolean; onSend: (text: string) => Promise<boolean>; placeholder: string }): JSX.Element {
  const [text, setText] = useState("");
  const send = async () => {
    const said = text.trim();
    if (!said || busy) return;
    if (await onSend(said)) setText("");
  };
  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        void send();
      }}
    >
      <label for="studio-message">Message</label>
      <div class="composer-row">
        <textarea
          id="studio-message"
          rows={2}
          maxLength={2000}
          value={text}
          placeholder={placeholder}
          aria-describedby="studio-message-hint"
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <button type="submit" class="button button-primary" disabled={busy || text.trim() === ""}>
          {busy ? "Sending…" : "Send"}
        </button>
      </div>
      <p id="studio-message-hint" class="hint">
        Enter sends, Shift+Enter starts a new line. English or Portuguese.
      </p>
    </form>
  );
}

function PrintPanel({ design, store }: { design: DesignDetail; store: FleetStore }): JSX.Element {
  useStore(store);
  const online = store.all().filter((p) => p.online);
  const [printerId, setPrinterId] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [queued, setQueued] = useState<Job | null>(null);
  const [error, setError] = useState<string | null>(null);
  const chosen = online.find((p) => p.id === printerId) ?? null;

  const print = async () => {
    setConfirming(false);
    setBusy(true);
    setError(null);
    setQueued(null);
    try {
      setQueued(await printDesign(design.id, chosen ? chosen.id : null));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="print-title">
      <h2 id="print-title">Print on…</h2>
      <div class="field">
        <label for="print-printer">Printer</label>
        <select id="print-printer" value={printerId} onChange={(e) => setPrinterId(e.currentTarget.value)}>
          <option value="">Any suitable printer (farm queue)</option>
          {online.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
              {p.material ? ` · ${p.material}` : ""}
              {p.nozzle_mm ? ` · ${p.nozzle_mm} mm` : ""}
            </option>
          ))}
        </select>
        <p class="hint">{online.length === 0 ? "No printer is online: the job waits in the queue." : "Only online printers are listed."}</p>
      </div>
      <div class="button-row form-end">
        <button type="button" class="button button-primary" disabled={busy || !design.spec} onClick={() => setConfirming(true)}>
          {busy ? "Slicing…" : "Print…"}
        </button>
      </div>
      <div role="status" aria-live="polite">
        {queued && (
          <p class="ok" data-job-id={queued.id}>
            Queued as job <code>{queued.id}</code> ({queued.filename}). <Link href="/queue">See the farm queue</Link>
          </p>
        )}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {confirming && (
        <ConfirmDialog
          title={`Print version ${design.version}?`}
          body={`The design is sliced and queued ${chosen ? `for ${chosen.name} (its material and nozzle)` : "for any suitable printer"}.`}
          confirmLabel="Queue the print"
          onConfirm={() => void print()}
          onCancel={() => setConfirming(false)}
        />
      )}
    </section>
  );
}

function DesignList(): JSX.Element {
  const [designs, setDesigns] = useState<DesignSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    listDesigns().then(setDesigns, (err) => setError(messageOf(err)));
  }, []);
  return (
    <section class="panel" aria-labelledby="designs-title">
      <h2 id="designs-title">Earlier designs</h2>
      {error && <p class="error">{error}</p>}
      {designs === null ? (
        !error && <p class="muted">Loading…</p>
      ) : designs.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <ul class="design-list">
          {designs.map((d) => (
            <li key={d.id}>
              <Link href={`/studio/${encodeURIComponent(d.id)}`}>{d.title ?? d.spec?.family ?? "Untitled"}</Link>
              <span class="muted">
                {" "}
                · version {d.version} · {dateTime(d.updated_at)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function StudioPage({ designId, store, canOperate }: { designId: string | null; store: FleetStore; canOperate: boolean }): JSX.Element {
  const [design, setDesign] = useState<DesignDetail | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const chat = useRef<HTMLOListElement>(null);

  useEffect(() => {
    setError(null);
    if (!designId) {
      setDesign(null);
      return;
    }
    if (design?.id === designId) return;
    setDesign(null);
    getDesign(designId).then(setDesign, (err) => setError(messageOf(err)));
  }, [designId]);

  useEffect(() => {
    const list = chat.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [design?.turns.length, pending]);

  const send = async (text: string): Promise<boolean> => {
    setBusy(true);
    setPending(text);
    setError(null);
    setNotice(null);
    try {
      if (!design) {
        const made = await createDesign(text);
        setDesign(made);
        navigate(`/studio/${encodeURIComponent(made.id)}`, { replace: !designId });
      } else {
        await sayToDesign(design.id, text);
        setDesign(await getDesign(design.id));
      }
      return true;
    } catch (err) {
      setError(messageOf(err));
      return false;
    } finally {
      setPending(null);
      setBusy(false);
    }
  };

  const undo = async () => {
    if (!design) return;
    setBusy(true);
    setError(null);
    try {
      const result = await undoDesign(design.id);
      setDesign(await getDesign(design.id));
      setNotice(result.reply);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const download = async (kind: "stl" | "3mf") => {
    if (!design) return;
    try {
      const name = await downloadFile(modelPath(design.id, kind), `design-${design.id}.${kind}`);
      setNotice(`Downloaded ${name}.`);
    } catch (err) {
      setError(messageOf(err));
    }
  };

  const turns = design?.turns ?? [];
  const spec = design?.spec ?? null;
  const loading = designId !== null && design === null && error === null;

  return (
    <main id="main" class="page">
      <div class="page-head">
        <div>
          <p class="crumbs">
            <Link href="/studio">Design studio</Link>
          </p>
          <h1>{design ? (design.title ?? "New design") : "Design studio"}</h1>
        </div>
        {design && (
          <p class="muted" data-version={design.version}>
            Version {design.version}
          </p>
        )}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="studio">
        <section class="panel studio-chat" aria-labelledby="chat-title">
          <h2 id="chat-title">Conversation</h2>
          {loading ? (
            <p class="muted">Loading the design…</p>
          ) : turns.length === 0 && !pending ? (
            <p class="muted">
              Describe what to make: a planter, a vase, a box with a lid, a pen holder, a wall bracket or a phone stand, with
              sizes (“a planter 120 mm tall with drainage holes”).
            </p>
          ) : null}
          <ol ref={chat} class="chat" aria-label="Messages" aria-live="polite">
            {turns.map((turn) => (
              <Message key={turn.seq} turn={turn} />
            ))}
            {pending && <Message turn={{ role: "user", text: pending, kind: null, seq: -1, pending: true }} />}
          </ol>
          <Composer busy={busy || loading} onSend={send} placeholder={design ? "e.g. make it 2 cm taller" : "e.g. a planter 120 mm tall with drainage holes"} />
          {design && (
            <div class="button-row">
              <button type="button" class="button" disabled={busy || design.version === 0} onClick={() => void undo()}>
                Undo
              </button>
            </div>
          )}
          <p class="muted" role="status" aria-live="polite">
            {notice}
          </p>
        </section>
        <div class="studio-design">
          {design && spec ? (
            <>
              <section class="panel" aria-labelledby="preview-title">
                <h2 id="preview-title">3D preview</h2>
                <ModelViewer
                  load={() => modelStl(design.id)}
                  modelKey={`${design.id}:${design.version}`}
                  label={`${paramLabel(spec.family)}, version ${design.version}`}
                  fallback={() =>
                    previewPng(design.preview_url?.startsWith("/api/designs/") ? design.preview_url : `/api/designs/${encodeURIComponent(design.id)}/preview.png`)
                  }
                />
                <div class="button-row">
                  <button type="button" class="button button-small" onClick={() => void download("stl")}>
                    Download STL
                  </button>
                  <button type="button" class="button button-small" onClick={() => void download("3mf")}>
                    Download 3MF
                  </button>
                </div>
              </section>
              <section class="panel" aria-labelledby="spec-title">
                <h2 id="spec-title">Parameters</h2>
                <SpecTable spec={spec} caption={`The design, version ${design.version}`} />
              </section>
              {design.printability && <PrintabilityPanel verdict={design.printability} />}
              {canOperate && <PrintPanel design={design} store={store} />}
            </>
          ) : (
            !designId && <DesignList />
          )}
        </div>
      </div>
    </main>
  );
}
