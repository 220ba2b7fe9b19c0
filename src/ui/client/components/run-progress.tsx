/** How far a run is: a labelled progress bar and the percentage in words, which screen readers read. */
export function RunProgress(props: { label: string; done: number; total: number; status: string }) {
  const finished = props.status === "completed";
  const percent = props.total > 0 ? Math.floor((props.done / props.total) * 100) : finished ? 100 : 0;
  return (
    <span class="progress">
      <progress max={100} value={percent} aria-label={props.label} />
      <span>
        {percent} % ({props.done} of {props.total})
      </span>
    </span>
  );
}
