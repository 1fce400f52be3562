// A 3D preview of a design's current model: the STL fetched with the token, drawn by three.js. The
// three.js code is a separate chunk, loaded the first time a viewer appears, so other pages stay light.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { messageOf } from "../api/client";
import type { Viewer } from "./viewer3d";

interface Props {
  /** What to draw: resolves to the STL bytes. */
  load: () => Promise<ArrayBuffer>;
  /** Changes when the model does (e.g. the design's version): the STL is fetched again. */
  modelKey: string;
  label: string;
  /** Without WebGL: a picture of the model instead (e.g. the server-rendered preview). */
  fallback?: () => Promise<Blob>;
}

type Status = "loading" | "ready" | "error" | "no-webgl";

function accentColour(element: Element): string {
  const accent = getComputedStyle(element).getPropertyValue("--model").trim();
  return accent || "#3f7d58";
}

export function ModelViewer({ load, modelKey, label, fallback }: Props): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const viewer = useRef<Viewer | null>(null);
  const [ready, setReady] = useState<Promise<Viewer | null> | null>(null);
  const [status, setStatus] = useState<Status>("loading");
  const [error, setError] = useState<string | null>(null);
  const [triangles, setTriangles] = useState(0);
  const [picture, setPicture] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    const made = import("./viewer3d").then((three) => {
      if (cancelled || !canvas.current || !box.current) return null;
      if (!three.webglAvailable()) {
        setStatus("no-webgl");
        return null;
      }
      viewer.current = three.createViewer(canvas.current, box.current);
      return viewer.current;
    });
    setReady(made);
    return () => {
      cancelled = true;
      viewer.current?.dispose();
      viewer.current = null;
    };
  }, []);

  useEffect(() => {
    if (!ready) return;
    let current = true;
    setStatus((s) => (s === "no-webgl" ? s : "loading"));
    void (async () => {
      try {
        const [made, stl] = await Promise.all([ready, load()]);
        if (!current || !made || !canvas.current) return;
        setTriangles(made.show(stl, accentColour(canvas.current)));
        setStatus("ready");
        setError(null);
      } catch (err) {
        if (!current) return;
        setStatus("error");
        setError(messageOf(err));
      }
    })();
    return () => {
      current = false;
    };
  }, [ready, modelKey]);

  useEffect(() => {
    if (status !== "no-webgl" || !fallback) return;
    let current = true;
    let url: string | null = null;
    fallback().then(
      (blob) => {
        if (!current) return;
        url = URL.createObjectURL(blob);
        setPicture(url);
      },
      (err) => {
        if (current) setError(messageOf(err));
      },
    );
    return () => {
      current = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [status, modelKey]);

  return (
    <figure class="viewer" data-status={status}>
      <div ref={box} class="viewer-box">
        <canvas
          ref={canvas}
          class="viewer-canvas"
          tabIndex={0}
          role="img"
          aria-label={`${label}: drag or use the arrow keys to move, scroll to zoom`}
          data-triangles={triangles}
        />
        {status === "loading" && <p class="viewer-note">Loading the model…</p>}
        {status === "no-webgl" && picture && <img class="viewer-picture" src={picture} alt={label} />}
        {status === "no-webgl" && (
          <p class="viewer-note">
            This browser cannot show 3D (no WebGL){fallback ? (picture ? ": a rendered picture instead." : error ? `, and the picture failed: ${error}` : ": loading a picture…") : "."}
          </p>
        )}
        {status === "error" && (
          <p class="viewer-note error" role="alert">
            The model could not be shown: {error}
          </p>
        )}
      </div>
      <figcaption class="viewer-caption">
        <span class="muted">{status === "ready" ? `${triangles.toLocaleString()} triangles` : " "}</span>
        <button type="button" class="button button-small" disabled={status !== "ready"} onClick={() => viewer.current?.reset()}>
          Reset view
        </button>
      </figcaption>
    </figure>
  );
}
