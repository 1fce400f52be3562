// Upload G-code to the farm queue with what the printer must have (material, nozzle, tags) and a priority.
import type { JSX } from "preact";
import { useRef, useState } from "preact/hooks";
import { messageOf } from "../api/client";
import { uploadJob } from "../api/endpoints";
import type { Job } from "../api/types";

const ACCEPT = ".gcode,.gco,.g,.stl,.3mf,.obj";

export function UploadForm({ materials, tags, onQueued }: { materials: string[]; tags: string[]; onQueued: (job: Job) => void }): JSX.Element {
  const form = useRef<HTMLFormElement>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<{ text: string; error: boolean } | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const element = form.current;
    if (!element) return;
    const data = new FormData(element);
    for (const key of ["material", "nozzle_mm", "tags", "priority"]) {
      const value = data.get(key);
      if (typeof value === "string" && value.trim() === "") data.delete(key);
    }
    setBusy(true);
    setStatus(null);
    try {
      const job = await uploadJob(data);
      setStatus({ text: `Queued ${job.filename}.`, error: false });
      element.reset();
      onQueued(job);
    } catch (err) {
      setStatus({ text: messageOf(err), error: true });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} class="panel upload" onSubmit={submit} aria-labelledby="upload-title">
      <h2 id="upload-title">Add a job</h2>
      <div class="field field-wide">
        <label for="upload-file">G-code file</label>
        <input id="upload-file" name="file" type="file" accept={ACCEPT} required aria-describedby="upload-file-hint" />
        <p id="upload-file-hint" class="hint">
          G-code; a mesh (STL, 3MF, OBJ) only when the cloud can slice.
        </p>
      </div>
      <div class="field">
        <label for="upload-material">Material</label>
        <input id="upload-material" name="material" list="upload-materials" placeholder="any" maxLength={32} />
        <datalist id="upload-materials">
          {materials.map((m) => (
            <option key={m} value={m} />
          ))}
        </datalist>
      </div>
      <div class="field">
        <label for="upload-nozzle">Nozzle (mm)</label>
        <input id="upload-nozzle" name="nozzle_mm" type="number" min="0.1" max="2" step="0.05" placeholder="any" />
      </div>
      <div class="field">
        <label for="upload-tags">Tags</label>
        <input
          id="upload-tags"
          name="tags"
          placeholder={tags.length ? tags.slice(0, 2).join(", ") : "comma-separated"}
          aria-describedby="upload-tags-hint"
        />
        <p id="upload-tags-hint" class="hint">
          The printer must carry every one.
        </p>
      </div>
      <div class="field">
        <label for="upload-priority">Priority</label>
        <input id="upload-priority" name="priority" type="number" min="-1000" max="1000" step="1" placeholder="0" />
      </div>
      <div class="field field-wide">
        <button type="submit" class="button button-primary" disabled={busy}>
          {busy ? "Uploading…" : "Upload to the queue"}
        </button>
        <p class={status?.error ? "error" : "muted"} role="status" aria-live="polite">
          {status?.text}
        </p>
      </div>
    </form>
  );
}
