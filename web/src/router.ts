import { useEffect, useState } from "preact/hooks";

/**
 * Hash routes (`#/plans/home`): the page itself is always base_path, so a reverse proxy needs
 * no rewrite rules and every asset and API path stays relative.
 */
export interface Route {
  path: string[];
  query: URLSearchParams;
}

function current(): Route {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path = "", query = ""] = hash.split("?");
  return {
    path: path.split("/").filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(query),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const on = () => setRoute(current());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function href(...parts: (string | Record<string, string | undefined>)[]): string {
  const path: string[] = [];
  let query = "";
  for (const p of parts) {
    if (typeof p === "string") path.push(encodeURIComponent(p));
    else {
      const s = new URLSearchParams();
      for (const [k, v] of Object.entries(p)) if (v !== undefined && v !== "") s.set(k, v);
      query = s.toString();
    }
  }
  return `#/${path.join("/")}${query ? `?${query}` : ""}`;
}

export function go(to: string): void {
  location.hash = to;
}
