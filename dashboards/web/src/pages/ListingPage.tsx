// One marketplace listing: what it is and on which terms, buy it (admins; one Idempotency-Key per click),
// and for its buyers and seller: download, print it on the farm, review it. Reviews are plain text.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { messageOf } from "../api/client";
import {
  LICENCE_LABELS,
  buyListing,
  downloadListing,
  getListing,
  listingReviews,
  price,
  printListing,
  putReview,
  type Listing,
  type PrintOut,
  type Review,
} from "../api/market";
import type { DesignSpec } from "../api/studio";
import type { Me } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { useStore, type FleetStore } from "../fleet/store";
import { bytes, dateTime } from "../format";
import { Link } from "../router";
import { Stars } from "./MarketPage";
import { SpecTable } from "./StudioPage";

function BuyPanel({ listing, onBought }: { listing: Listing; onBought: () => void }): JSX.Element {
  const [card, setCard] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const paid = listing.price_cents > 0;
  const cost = price(listing.price_cents, listing.currency);

  const buy = async () => {
    setConfirming(false);
    setBusy(true);
    setError(null);
    try {
      await buyListing(listing.id, paid ? card.trim() : null);
      onBought();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      class="panel"
      aria-labelledby="buy-title"
      onSubmit={(event) => {
        event.preventDefault();
        setConfirming(true);
      }}
    >
      <h2 id="buy-title">{paid ? `Buy for ${cost}` : "Get it for free"}</h2>
      {paid && (
        <div class="field">
          <label for="buy-card">Card token</label>
          <input
            id="buy-card"
            value={card}
            required
            maxLength={128}
            pattern="[A-Za-z0-9_.\-]+"
            autoComplete="off"
            aria-describedby="buy-card-hint"
            onInput={(e) => setCard(e.currentTarget.value)}
          />
          <p id="buy-card-hint" class="hint">
            The token your payment provider gave for the card (the test provider takes any, e.g. tok_visa).
          </p>
        </div>
      )}
      <div class="button-row form-end">
        <button type="submit" class="button button-primary" disabled={busy}>
          {busy ? "Paying…" : paid ? `Buy for ${cost}` : "Get it"}
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {confirming && (
        <ConfirmDialog
          title={paid ? `Buy “${listing.title}” for ${cost}?` : `Get “${listing.title}”?`}
          body={paid ? "Your organisation is charged once, even if you click again." : "It joins your organisation's purchases."}
          confirmLabel={paid ? `Pay ${cost}` : "Get it"}
          onConfirm={() => void buy()}
          onCancel={() => setConfirming(false)}
        />
      )}
    </form>
  );
}

function OwnerPanel({ listing, store, canOperate }: { listing: Listing; store: FleetStore; canOperate: boolean }): JSX.Element {
  useStore(store);
  const online = store.all().filter((p) => p.online);
  const [printerId, setPrinterId] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [queued, setQueued] = useState<PrintOut | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const chosen = online.find((p) => p.id === printerId) ?? null;

  const download = async () => {
    setError(null);
    try {
      setStatus(`Downloaded ${await downloadListing(listing)}.`);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const print = async () => {
    setConfirming(false);
    setBusy(true);
    setError(null);
    try {
      setQueued(await printListing(listing.id, chosen ? chosen.id : null));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="owned-title">
      <h2 id="owned-title">Yours to print</h2>
      {listing.file ? (
        <p>
          <button type="button" class="button" onClick={() => void download()}>
            Download {listing.file.name}
          </button>{" "}
          <span class="muted">{bytes(listing.file.size_bytes)}</span>
        </p>
      ) : (
        !listing.design_spec && <p class="muted">The seller has not uploaded a file yet.</p>
      )}
      {canOperate && (
        <>
          <div class="field">
            <label for="listing-printer">Printer</label>
            <select id="listing-printer" value={printerId} onChange={(e) => setPrinterId(e.currentTarget.value)}>
              <option value="">Any suitable printer (farm queue)</option>
              {online.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                  {p.material ? ` · ${p.material}` : ""}
                </option>
              ))}
            </select>
          </div>
          <div class="button-row form-end">
            <button type="button" class="button button-primary" disabled={busy} onClick={() => setConfirming(true)}>
              {busy ? "Queueing…" : "Print this…"}
            </button>
          </div>
        </>
      )}
      <div role="status" aria-live="polite">
        {queued && (
          <p class="ok" data-job-id={queued.job_id}>
            Queued as job <code>{queued.job_id}</code>. <Link href="/queue">See the farm queue</Link>
          </p>
        )}
        {status && <p class="muted">{status}</p>}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {confirming && (
        <ConfirmDialog
          title={`Print “${listing.title}”?`}
          body={`A job goes to the farm queue ${chosen ? `for ${chosen.name}` : "for any suitable printer"}.${
            listing.licence === "per_print" ? ` The seller's royalty of ${price(listing.royalty_cents, listing.currency)} is due per print.` : ""
          }`}
          confirmLabel="Queue the print"
          onConfirm={() => void print()}
          onCancel={() => setConfirming(false)}
        />
      )}
    </section>
  );
}

function ReviewForm({ listingId, onSaved }: { listingId: string; onSaved: () => void }): JSX.Element {
  const [rating, setRating] = useState("5");
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<{ text: string; error: boolean } | null>(null);
  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await putReview(listingId, Number(rating), text.trim());
      setStatus({ text: "Review saved.", error: false });
      setText("");
      onSaved();
    } catch (err) {
      setStatus({ text: messageOf(err), error: true });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="review-form" onSubmit={save} aria-labelledby="review-form-title">
      <h3 id="review-form-title">Your review</h3>
      <div class="field">
        <label for="review-rating">Rating</label>
        <select id="review-rating" value={rating} onChange={(e) => setRating(e.currentTarget.value)}>
          {[5, 4, 3, 2, 1].map((n) => (
            <option key={n} value={n}>
              {n} star{n === 1 ? "" : "s"}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="review-text">Review</label>
        <textarea id="review-text" rows={3} maxLength={2000} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </div>
      <div class="button-row form-end">
        <button type="submit" class="button" disabled={busy}>
          {busy ? "Saving…" : "Save review"}
        </button>
        <p class={status?.error ? "error" : "muted"} role="status" aria-live="polite">
          {status?.text}
        </p>
      </div>
    </form>
  );
}

export function ListingPage({ listingId, store, me }: { listingId: string; store: FleetStore; me: Me | null }): JSX.Element {
  const [listing, setListing] = useState<Listing | null>(null);
  const [reviews, setReviews] = useState<Review[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = async () => {
    try {
      const [found, said] = await Promise.all([getListing(listingId), listingReviews(listingId)]);
      setListing(found);
      setReviews(said);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  };

  useEffect(() => {
    setListing(null);
    setReviews(null);
    void load();
  }, [listingId]);

  useEffect(() => {
    if (listing) document.title = `${listing.title} · Marketplace · 3D Pot`;
  }, [listing?.title]);

  const canOperate = me !== null && me.role !== "viewer";
  const isAdmin = me?.role === "admin";
  const entitled = listing?.entitled === true;
  const own = listing !== null && me !== null && listing.seller_org_id === me.organisation.id;

  return (
    <main id="main" class="page">
      <p class="crumbs">
        <Link href="/market">Marketplace</Link>
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {!listing ? (
        !error && <p class="muted">Loading the listing…</p>
      ) : (
        <>
          <div class="page-head">
            <h1>{listing.title}</h1>
            <span class={listing.free ? "price price-free" : "price"}>{price(listing.price_cents, listing.currency)}</span>
          </div>
          <div class="columns">
            <div>
              <section class="panel" aria-labelledby="about-title">
                <h2 id="about-title">About</h2>
                {listing.description ? <p class="listing-description">{listing.description}</p> : <p class="muted">No description.</p>}
                <dl class="facts">
                  <div>
                    <dt>Seller</dt>
                    <dd>{listing.seller_name ?? listing.seller_org_id}</dd>
                  </div>
                  <div>
                    <dt>Licence</dt>
                    <dd>
                      {LICENCE_LABELS[listing.licence] ?? listing.licence}
                      {listing.licence === "per_print" && ` (${price(listing.royalty_cents, listing.currency)} per print)`}
                    </dd>
                  </div>
                  <div>
                    <dt>Rating</dt>
                    <dd>
                      <Stars rating={listing.rating} count={listing.rating_count} />
                    </dd>
                  </div>
                  <div>
                    <dt>Sales</dt>
                    <dd>{listing.sales_count}</dd>
                  </div>
                  <div>
                    <dt>File</dt>
                    <dd>{listing.file ? `${listing.file.kind} · ${bytes(listing.file.size_bytes)}` : listing.design_spec ? "parametric design" : "–"}</dd>
                  </div>
                  <div>
                    <dt>Listed</dt>
                    <dd>{dateTime(listing.created_at)}</dd>
                  </div>
                </dl>
                {listing.tags.length > 0 && (
                  <ul class="tags" aria-label="Tags">
                    {listing.tags.map((tag) => (
                      <li key={tag}>
                        <Link href={`/market?tag=${encodeURIComponent(tag)}`}>#{tag}</Link>
                      </li>
                    ))}
                  </ul>
                )}
              </section>
              {listing.design_spec && typeof listing.design_spec["family"] === "string" && (
                <section class="panel" aria-labelledby="listing-spec-title">
                  <h2 id="listing-spec-title">Design parameters</h2>
                  <SpecTable spec={listing.design_spec as DesignSpec} caption="The parametric design" />
                </section>
              )}
            </div>
            <div>
              {entitled ? (
                <OwnerPanel listing={listing} store={store} canOperate={canOperate} />
              ) : isAdmin ? (
                <BuyPanel listing={listing} onBought={() => void load()} />
              ) : (
                <section class="panel">
                  <h2>Buying</h2>
                  <p class="muted">Only your organisation's admins can buy listings.</p>
                </section>
              )}
              <section class="panel" aria-labelledby="reviews-title">
                <h2 id="reviews-title">Reviews ({listing.rating_count})</h2>
                {reviews === null || reviews.length === 0 ? (
                  <p class="muted">No reviews yet.</p>
                ) : (
                  <ul class="reviews">
                    {reviews.map((review) => (
                      <li key={review.id} class="review" data-review-id={review.id}>
                        <p class="review-head">
                          <Stars rating={review.rating} /> <span class="muted">{dateTime(review.updated_at)}</span>
                        </p>
                        {review.text && <p class="review-text">{review.text}</p>}
                      </li>
                    ))}
                  </ul>
                )}
                {entitled && canOperate && !own && <ReviewForm listingId={listing.id} onSaved={() => void load()} />}
              </section>
            </div>
          </div>
        </>
      )}
    </main>
  );
}
