import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

const HEIGHT = 220;

/**
 * Certificates expiring per day as bars (uPlot, canvas). Screen readers get the summary in the
 * label; the same figures are in the table beside it.
 */
export function ExpiryChart(props: { points: { date: string; count: number }[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const bars = uPlot.paths.bars;
    const width = () => Math.max(280, element.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: HEIGHT,
        legend: { show: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        series: [
          {},
          {
            label: "Expiring",
            stroke: "#2f5d8a",
            fill: "#2f5d8a99",
            ...(bars && { paths: bars({ size: [0.8, 24] }) }),
            points: { show: false },
          },
        ],
        axes: [{ stroke: "#888" }, { stroke: "#888" }],
      },
      [props.points.map((p) => Date.parse(p.date) / 1000), props.points.map((p) => p.count)],
      element,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.points]);
  return <div class="chart" ref={box} role="img" aria-label={props.label} />;
}
