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
