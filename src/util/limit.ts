/**
 * At most `n` of the functions it is given run at once; the others wait their turn in order.
 * For fan-outs of I/O or processes whose count comes from the data (a directory walk, one
 * `btrfs subvolume show` per snapshot) on a 2-core machine.
 */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    while (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * Both promises' values once both have settled; the first one's error if either failed (when
 * both did, `alsoFailed` gets the second's). Unlike `Promise.all`, nothing is still running
 * when this returns or throws: a step that fails does not leave its sibling deleting or listing
 * behind the caller's back.
 */
export async function bothSettled<A, B>(
  a: Promise<A>,
  b: Promise<B>,
  alsoFailed: (e: unknown) => void = () => undefined,
): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === "rejected") {
    if (rb.status === "rejected") alsoFailed(rb.reason);
    throw ra.reason;
  }
  if (rb.status === "rejected") throw rb.reason;
  return [ra.value, rb.value];
}
