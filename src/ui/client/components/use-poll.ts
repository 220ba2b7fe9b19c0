import { useEffect } from "preact/hooks";

/** Calls `reload` every `ms` while `active`: live progress without a push channel. */
export function usePoll(active: boolean, reload: () => void, ms = 1000): void {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, ms);
    return () => clearInterval(timer);
  }, [active, reload, ms]);
}
