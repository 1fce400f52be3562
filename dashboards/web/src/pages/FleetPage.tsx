// The fleet grid: a card per printer, live from the feed, filtered by state, tag and material.
import type { JSX } from "preact";
import { PrinterCard } from "../components/PrinterCard";
import { STATE_CHOICES, choices, displayState, fromQuery, matches, toQuery, type Filters } from "../fleet/filters";
import { useStore, type FleetStore } from "../fleet/store";
import { STATE_LABELS } from "../format";
import { navigate } from "../router";

function Summary({ printers }: { printers: ReturnType<FleetStore["all"]> }): JSX.Element {
  const count = (state: string) => printers.filter((p) => displayState(p) === state).length;
  const online = printers.filter((p) => p.online).length;
  return (
    <dl class="summary" aria-label="Fleet summary">
      <div>
        <dt>Printers</dt>
        <dd>{printers.length}</dd>
      </div>
      <div>
        <dt>Online</dt>
        <dd>{online}</dd>
      </div>
      <div>
        <dt>Printing</dt>
        <dd>{count("printing")}</dd>
      </div>
      <div>
        <dt>Paused</dt>
        <dd>{count("paused")}</dd>
      </div>
      <div>
        <dt>Errors</dt>
        <dd>{count("error")}</dd>
      </div>
    </dl>
  );
}

function Select(props: {
  id: string;
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (value: string) => void;
}): JSX.Element {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">All</option>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function FleetPage({ store, query }: { store: FleetStore; query: URLSearchParams }): JSX.Element {
  useStore(store);
  const printers = store.all();
  const filters = fromQuery(query);
  const { tags, materials } = choices(printers);
  const shown = printers.filter((p) => matches(p, filters));
  const change = (key: keyof Filters) => (value: string) =>
    navigate(`/${toQuery({ ...filters, [key]: value })}`, { replace: true });

  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1>Fleet</h1>
        <Summary printers={printers} />
      </div>
      <form class="filters" aria-label="Filter printers" onSubmit={(e) => e.preventDefault()}>
        <Select
          id="filter-state"
          label="State"
          value={filters.state}
          options={STATE_CHOICES.map((s) => ({ value: s, label: STATE_LABELS[s] }))}
          onChange={change("state")}
        />
        <Select
          id="filter-tag"
          label="Tag"
          value={filters.tag}
          options={tags.map((t) => ({ value: t, label: t }))}
          onChange={change("tag")}
        />
        <Select
          id="filter-material"
          label="Material"
          value={filters.material}
          options={materials.map((m) => ({ value: m, label: m }))}
          onChange={change("material")}
        />
      </form>
      {!store.isLoaded ? (
        <p class="muted">Loading printers…</p>
      ) : printers.length === 0 ? (
        <p class="muted">
          No printers yet. Create a claim code (POST /api/printers/claim-codes) and start an agent with{" "}
          <code>3dpot agent --enrol CODE --cloud-url …</code>.
        </p>
      ) : shown.length === 0 ? (
        <p class="muted">No printer matches these filters.</p>
      ) : (
        <section class="grid" aria-label="Printers">
          {shown.map((printer) => (
            <PrinterCard key={printer.id} printer={printer} />
          ))}
        </section>
      )}
    </main>
  );
}
