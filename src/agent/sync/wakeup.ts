/**
 * A sleep that a push can cut short. A wake that arrives while the sync is busy is kept, so the
 * next sleep returns at once and a version announced mid-delivery is not left for the next poll.
 */
export function createWakeup() {
  let woken = false;
  let end: (() => void) | undefined;
  return {
    sleep(ms: number, signal: AbortSignal): Promise<void> {
      if (woken || signal.aborted) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          end = undefined;
          woken = false;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done, { once: true });
        end = done;
      });
    },
    wake(): void {
      woken = true;
      end?.();
    },
  };
}

export type Wakeup = ReturnType<typeof createWakeup>;
