import { type ComponentChildren, createContext } from "preact";
import { useContext, useLayoutEffect, useState } from "preact/hooks";
import { loadChunk, prepare } from "./pages.js";

// The dashboard is one HTML page: moving between its pages changes the address with the History
// API, so links can be bookmarked, reloaded and shared, and Back works.
const listeners = new Set<() => void>();
const changed = () => {
  for (const listener of listeners) listener();
};
// The server renders pages with the same modules, where there is no window and no history.
if (typeof window !== "undefined") {
  window.addEventListener("popstate", () => {
    prepare(new URL(window.location.href));
    changed();
  });
}

/** The address a page is rendered for on the server; in the browser, the window's own. */
export const RenderedAt = createContext<URL | undefined>(undefined);

/** Goes to `href` inside the dashboard; `replace` when the step should not get its own Back entry. */
export function navigate(href: string, replace = false): void {
  prepare(new URL(href, window.location.href));
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  changed();
}

/** The address now, re-rendering the caller whenever it changes. */
export function useLocation(): URL {
  const renderedAt = useContext(RenderedAt);
  const [, setVersion] = useState(0);
  useLayoutEffect(() => {
    const listener = () => setVersion((v) => v + 1);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return renderedAt ?? new URL(window.location.href);
}

/** A link that moves inside the dashboard without reloading; a modified click opens as usual. */
export function Link(props: {
  href: string;
  children: ComponentChildren;
  class?: string;
  "aria-current"?: "page" | undefined;
}) {
  const { href, children, ...rest } = props;
  return (
    <a
      href={href}
      {...rest}
      onPointerEnter={() => loadChunk(new URL(href, window.location.href))}
      onFocus={() => loadChunk(new URL(href, window.location.href))}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
