import { useCallback, useEffect, useState } from "preact/hooks";

export type Loaded<T> =
  | { state: "loading" }
  | { state: "done"; value: T }
  | { state: "failed"; message: string };

/**
 * Runs `load` when `key` changes and keeps its outcome; an answer that arrives after a newer
 * request started is dropped, so quick filter changes never show stale rows.
 */
export function useLoad<T>(load: () => Promise<T>, key: string): [Loaded<T>, () => void] {
  const [result, setResult] = useState<Loaded<T>>({ state: "loading" });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setResult((r) => (r.state === "done" ? r : { state: "loading" }));
    load().then(
      (value) => live && setResult({ state: "done", value }),
      (error: Error) => live && setResult({ state: "failed", message: error.message }),
    );
    return () => {
      live = false;
    };
  }, [key, round]);
  return [result, useCallback(() => setRound((r) => r + 1), [])];
}
