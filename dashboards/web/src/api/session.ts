// The access token of the signed-in user, kept in localStorage until it expires or the user signs out.

const KEY = "3dpot.session";

interface Stored {
  token: string;
  expiresAtMs: number;
}

type Listener = () => void;
const listeners = new Set<Listener>();

function read(): Stored | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const stored = JSON.parse(raw) as Stored;
    return stored.expiresAtMs > Date.now() ? stored : null;
  } catch {
    return null;
  }
}

export function accessToken(): string | null {
  return read()?.token ?? null;
}

export function signIn(token: string, expiresAt: string): void {
  const stored: Stored = { token, expiresAtMs: Date.parse(expiresAt) };
  localStorage.setItem(KEY, JSON.stringify(stored));
  listeners.forEach((listener) => listener());
}

export function signOut(): void {
  localStorage.removeItem(KEY);
  listeners.forEach((listener) => listener());
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
