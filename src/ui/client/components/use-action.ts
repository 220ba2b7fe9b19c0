import { useState } from "preact/hooks";
import { outcomeOf } from "../api.js";

/**
 * A write's outcome line: `run` clears it, awaits the write and shows the sentence it returns, or
 * "Refused: …" / "Failed: …" with the server's message. `busy` is true meanwhile, so a button can
 * refuse a second click.
 */
export function useAction(): {
  outcome: string;
  busy: boolean;
  run: (write: () => Promise<string>) => Promise<void>;
} {
  const [outcome, setOutcome] = useState("");
  const [busy, setBusy] = useState(false);
  const run = async (write: () => Promise<string>) => {
    setOutcome("");
    setBusy(true);
    try {
      setOutcome(await write());
    } catch (error) {
      setOutcome(outcomeOf(error));
    } finally {
      setBusy(false);
    }
  };
  return { outcome, busy, run };
}
