import { useCallback, useLayoutEffect, useRef, useState } from "preact/hooks";

/** `key` on an outcome names the request it answers; while a newer one runs, the older rows stay shown. */
export type Loaded<T> =
  | { state: "loading" }
  | { state: "done"; value: T; key: string }
  | { state: "failed"; message: string };

/**
 * Runs `load` when `key` changes and keeps its outcome; an answer that arrives after a newer
 * request started is dropped, so quick filter changes never show stale rows. `initial` is an
 * answer already at hand for the first key (one the page came with): it is shown at once and not
 * asked for again.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  key: string,
  initial?: () => T | undefined,
): [Loaded<T>, () => void] {
  const [result, setResult] = useState<Loaded<T>>(() => {
    const value = initial?.();
    return value === undefined ? { state: "loading" } : { state: "done", value, key };
  });
  const [round, setRound] = useState(0);
  const given = useRef(result.state === "done");
  // A layout effect starts the request in the same task as the render: a plain effect waits for the
  // next animation frame, which a background or headless tab may delay by 100 ms.
  useLayoutEffect(() => {
    if (given.current) {
      given.current = false;
      return;
    }
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
