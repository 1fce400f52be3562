// The marketplace: search listings of every organisation by words, tag, licence and price, sorted.
// The search lives in the URL (?q=&tag=&licence=&free=&sort=&offset=), so it can be shared and reloaded.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { messageOf } from "../api/client";
import { LICENCE_LABELS, PAGE_SIZE, price, searchListings, type Listing, type ListingPage, type Search } from "../api/market";
import { Link, navigate } from "../router";

const SORTS: [string, string][] = [
  ["", "Best match / newest"],
  ["newest", "Newest"],
  ["price_asc", "Price: low to high"],
  ["price_desc", "Price: high to low"],
  ["rating", "Best rated"],
];

function searchOf(query: URLSearchParams): Search {
  const offset = Number(query.get("offset") ?? "0");
  return {
    q: query.get("q") ?? "",
    tag: query.get("tag") ?? "",
    licence: query.get("licence") ?? "",
    free: query.get("free") ?? "",
    sort: query.get("sort") ?? "",
    offset: Number.isFinite(offset) && offset > 0 ? Math.floor(offset) : 0,
  };
}

function urlOf(search: Search): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(search)) {
    if (value !== undefined && value !== "" && value !== 0) params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `/market?${text}` : "/market";
}

export function Stars({ rating, count }: { rating: number | null; count?: number }): JSX.Element {
  if (rating === null || count === 0) return <span class="muted">No reviews yet</span>;
  const full = Math.round(rating);
  return (
    <span class="stars" title={`${rating.toFixed(1)} out of 5`}>
      <span aria-hidden="true">{"★".repeat(full) + "☆".repeat(5 - full)}</span>
      <span class="visually-hidden">{rating.toFixed(1)} out of 5 stars</span>
      {count !== undefined && ` (${count})`}
    </span>
  );
}

function ListingCard({ listing }: { listing: Listing }): JSX.Element {
  return (
    <article class="card listing-card" data-listing-id={listing.id}>
      <div class="card-head">
        <h2 class="card-title">
          <Link href={`/market/${encodeURIComponent(listing.id)}`}>{listing.title}</Link>
        </h2>
        <span class={listing.free ? "price price-free" : "price"}>{price(listing.price_cents, listing.currency)}</span>
      </div>
      <p class="card-meta muted">
        {listing.seller_name ?? "A seller"} · {LICENCE_LABELS[listing.licence] ?? listing.licence}
        {listing.entitled ? " · yours" : ""}
      </p>
      {listing.description && <p class="listing-summary">{listing.description}</p>}
      <p class="card-meta">
        <Stars rating={listing.rating} count={listing.rating_count} />
      </p>
      {listing.tags.length > 0 && (
        <ul class="tags" aria-label="Tags">
          {listing.tags.map((tag) => (
            <li key={tag}>#{tag}</li>
          ))}
        </ul>
      )}
    </article>
  );
}

export function MarketPage({ query }: { query: URLSearchParams }): JSX.Element {
  const search = searchOf(query);
  const key = urlOf(search);
  const [draft, setDraft] = useState<Search>(search);
  const [page, setPage] = useState<ListingPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    let current = true;
    setDraft(search);
    setLoading(true);
    searchListings(search).then(
      (found) => {
        if (!current) return;
        setPage(found);
        setError(null);
        setLoading(false);
      },
      (err) => {
        if (!current) return;
        setError(messageOf(err));
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [key]);

  const apply = (event: Event) => {
    event.preventDefault();
    navigate(urlOf({ ...draft, offset: 0 }));
  };
  const set = (field: keyof Search) => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement | HTMLSelectElement).value;
    setDraft((d) => ({ ...d, [field]: value }));
  };
  const change = (field: keyof Search) => (event: Event) => {
    // selects search at once; the text boxes wait for the Search button or Enter
    const value = (event.currentTarget as HTMLSelectElement).value;
    navigate(urlOf({ ...draft, [field]: value, offset: 0 }));
  };

  const offset = search.offset ?? 0;
  const total = page?.total ?? 0;
  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1>Marketplace</h1>
        <p class="muted" role="status" aria-live="polite">
          {loading ? "Searching…" : page ? `${total} listing${total === 1 ? "" : "s"}` : ""}
        </p>
      </div>
      <form class="panel market-search" role="search" aria-label="Listings" onSubmit={apply}>
        <div class="field field-grow">
          <label for="market-q">Search</label>
          <input id="market-q" type="search" value={draft.q} maxLength={200} placeholder='words, "a phrase", -excluded' onInput={set("q")} />
        </div>
        <div class="field">
          <label for="market-tag">Tag</label>
          <input id="market-tag" value={draft.tag} maxLength={32} placeholder="any" onInput={set("tag")} />
        </div>
        <div class="field">
          <label for="market-licence">Licence</label>
          <select id="market-licence" value={draft.licence} onChange={change("licence")}>
            <option value="">Any</option>
            {Object.entries(LICENCE_LABELS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="market-free">Price</label>
          <select id="market-free" value={draft.free} onChange={change("free")}>
            <option value="">Free and paid</option>
            <option value="true">Free only</option>
            <option value="false">Paid only</option>
          </select>
        </div>
        <div class="field">
          <label for="market-sort">Sort by</label>
          <select id="market-sort" value={draft.sort} onChange={change("sort")}>
            {SORTS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div class="field field-end">
          <button type="submit" class="button button-primary">
            Search
          </button>
        </div>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {page && page.items.length === 0 && !loading && <p class="muted">No listing matches.</p>}
      {page && page.items.length > 0 && (
        <div class="grid" aria-busy={loading}>
          {page.items.map((listing) => (
            <ListingCard key={listing.id} listing={listing} />
          ))}
        </div>
      )}
      {page && total > PAGE_SIZE && (
        <nav class="pager" aria-label="Pages">
          <button type="button" class="button button-small" disabled={offset === 0} onClick={() => navigate(urlOf({ ...search, offset: Math.max(0, offset - PAGE_SIZE) }))}>
            ← Previous
          </button>
          <span class="muted">
            {offset + 1}–{Math.min(total, offset + PAGE_SIZE)} of {total}
          </span>
          <button
            type="button"
            class="button button-small"
            disabled={offset + PAGE_SIZE >= total}
            onClick={() => navigate(urlOf({ ...search, offset: offset + PAGE_SIZE }))}
          >
            Next →
          </button>
        </nav>
      )}
    </main>
  );
}
