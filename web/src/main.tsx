import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, setUnauthorizedHandler } from "./api.js";
import { Dashboard } from "./pages/Dashboard.js";
import { History } from "./pages/History.js";
import { Login } from "./pages/Login.js";
import { PlanPage } from "./pages/Plan.js";
import { RunPage } from "./pages/Run.js";
import { Snapshots } from "./pages/Snapshots.js";
import { href, useRoute } from "./router.js";
import type { Me } from "./types.js";

function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  useEffect(() => {
    setUnauthorizedHandler(() => setMe(null));
    api.get<Me>("api/me").then(setMe, () => setMe(null));
  }, []);

  if (me === undefined) return <p class="boot">Loading snapback…</p>;
  if (me === null) return <Login onLogin={setMe} />;

  const [page, ...rest] = route.path;
  const admin = me.role === "admin";
  let body;
  if (page === "plans" && rest[0]) body = <PlanPage name={rest[0]} admin={admin} />;
  else if (page === "history") body = <History query={route.query} />;
  else if (page === "runs" && rest[0]) body = <RunPage id={rest[0]} admin={admin} />;
  else if (page === "snapshots" && rest[0])
    body = <Snapshots plan={rest[0]} query={route.query} admin={admin} />;
  else body = <Dashboard />;

  const logout = () => {
    void api.post("api/logout").finally(() => setMe(null));
  };
  return (
    <>
      <header class="top">
        <a class="brand" href={href()}>
          snapback
        </a>
        <nav aria-label="main">
          <a href={href()} aria-current={page === undefined ? "page" : undefined}>
            Dashboard
          </a>
          <a href={href("history")} aria-current={page === "history" ? "page" : undefined}>
            History
          </a>
        </nav>
        <span class="who">
          {me.name} <small>({me.role})</small>{" "}
          <button type="button" class="link" onClick={logout}>
            Log out
          </button>
        </span>
      </header>
      <main>{body}</main>
    </>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
