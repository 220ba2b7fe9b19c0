import { useCallback, useLayoutEffect, useState } from "preact/hooks";

/** `key` on an outcome names the request it answers; while a newer one runs, the older rows stay shown. */
export type Loaded<T> =
  | { state: "loading" }
  | { state: "done"; value: T; key: string }
  | { state: "failed"; message: string };

/**
 * Runs `load` when `key` changes and keeps its outcome; an answer that arrives after a newer
 * request started is dropped, so quick filter changes never show stale rows.
 */
export function useLoad<T>(load: () => Promise<T>, key: string): [Loaded<T>, () => void] {
  const [result, setResult] = useState<Loaded<T>>({ state: "loading" });
  const [round, setRound] = useState(0);
  // A layout effect starts the request in the same task as the render: a plain effect waits for the
  // next animation frame, which a background or headless tab may delay by 100 ms.
  useLayoutEffect(() => {
    let live = true;
    setResult((r) => (r.state === "done" ? r : { state: "loading" }));
    load().then(
      (value) => live && setResult({ state: "done", value, key }),
      (error: Error) => live && setResult({ state: "failed", message: error.message }),
    );
    return () => {
      live = false;
    };
  }, [key, round]);
  return [result, useCallback(() => setRound((r) => r + 1), [])];
}
