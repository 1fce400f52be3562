// The marketplace's API: search, a listing, buy (with an Idempotency-Key), reviews, download, print this.
import { get, request } from "./client";
import { authedFetch, downloadFile } from "./http";

export type Licence = "personal" | "commercial" | "per_print";
export type SortOrder = "relevance" | "newest" | "price_asc" | "price_desc" | "rating";

export interface ListingFile {
  name: string;
  kind: string;
  size_bytes: number;
  sha256: string;
}

export interface Listing {
  id: string;
  seller_org_id: string;
  seller_name?: string | null;
  title: string;
  description: string;
  price_cents: number;
  currency: string;
  free: boolean;
  licence: Licence;
  royalty_cents: number;
  tags: string[];
  file: ListingFile | null;
  design_spec: Record<string, unknown> | null;
  print_profile: Record<string, unknown>;
  images: string[];
  status: string;
  rating: number | null;
  rating_count: number;
  sales_count: number;
  created_at: string;
  updated_at: string;
  entitled?: boolean | null;
}

export interface ListingPage {
  items: Listing[];
  total: number;
}

export interface Review {
  id: string;
  listing_id: string;
  org_id: string;
  rating: number;
  text: string;
  created_at: string;
  updated_at: string;
}

export interface Purchase {
  id: string;
  listing_id: string;
  price_cents: number;
  currency: string;
  status: string;
  created_at: string;
}

export interface PrintOut {
  job_id: string;
  listing_id: string;
  state: string;
}

export interface Search {
  q?: string;
  tag?: string;
  licence?: string;
  free?: string;
  sort?: string;
  offset?: number;
}

export const PAGE_SIZE = 24;

const base = (id: string): string => `/api/market/listings/${encodeURIComponent(id)}`;

export const searchListings = (search: Search): Promise<ListingPage> =>
  get<ListingPage>("/api/market/listings", {
    q: search.q,
    tag: search.tag,
    licence: search.licence,
    free: search.free,
    sort: search.sort,
    limit: PAGE_SIZE,
    offset: search.offset,
  });

export const getListing = (id: string): Promise<Listing> => get<Listing>(base(id));

export const listingReviews = (id: string): Promise<Review[]> => get<Review[]>(`${base(id)}/reviews`);

export const putReview = (id: string, rating: number, text: string): Promise<Review> =>
  request<Review>("PUT", `${base(id)}/review`, { json: { rating, text } });

/** Buy: one fresh Idempotency-Key per click, so a retried request is not charged twice. */
export async function buyListing(id: string, cardToken: string | null): Promise<Purchase> {
  const response = await authedFetch("POST", `${base(id)}/purchase`, {
    json: cardToken ? { card_token: cardToken } : {},
    headers: { "Idempotency-Key": crypto.randomUUID() },
  });
  return (await response.json()) as Purchase;
}

export const printListing = (id: string, printerId: string | null): Promise<PrintOut> =>
  request<PrintOut>("POST", `${base(id)}/print`, { json: printerId ? { printer_id: printerId } : {} });

export const downloadListing = (listing: Listing): Promise<string> =>
  downloadFile(`${base(listing.id)}/download`, listing.file?.name ?? "download");

export function price(cents: number, currency: string): string {
  if (cents === 0) return "Free";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export const LICENCE_LABELS: Record<Licence, string> = {
  personal: "Personal use",
  commercial: "Commercial use",
  per_print: "Per print (royalty)",
};
