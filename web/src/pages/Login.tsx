import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api.js";
import type { Me } from "../types.js";

export function Login({ onLogin }: { onLogin: (me: Me) => void }) {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [hasUsers, setHasUsers] = useState<boolean | null>(null);

  useEffect(() => {
    api.get<{ has_users: boolean }>("api/login").then(
      (r) => setHasUsers(r.has_users),
      () => setHasUsers(null),
    );
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await api.post<Me>("api/login", { user, password }));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "the server cannot be reached");
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <h1>snapback</h1>
      {hasUsers === false && (
        <div class="banner warn" role="status">
          <strong>No user exists yet.</strong> Create the first one on the server, as root:
          <pre>snapback user add admin --role admin</pre>
          then log in here with that name and the password you typed.
        </div>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <label>
          User
          <input
            name="user"
            autocomplete="username"
            value={user}
            onInput={(e) => setUser(e.currentTarget.value)}
            required
            autofocus
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}
