/**
 * A stack of undo steps, unwound in reverse when disposed. Every step runs even if an
 * earlier one failed; failures are collected and handed to `onError`, never thrown over the
 * error that caused the unwinding.
 */
export class DeferStack implements AsyncDisposable {
  private readonly steps: { what: string; undo: () => Promise<void> }[] = [];
  constructor(private readonly onError: (what: string, error: unknown) => void) {}

  /**
   * Adds an undo step. The returned function starts it now, before the unwind (once no one
   * needs what it removes); it runs at most once, and the unwind awaits that same run and
   * reports its failure.
   */
  defer(what: string, undo: () => Promise<void>): () => Promise<void> {
    let started: Promise<void> | undefined;
    const once = (): Promise<void> => (started ??= undo());
    this.steps.push({ what, undo: once });
    return once;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop();
      if (!step) break;
      try {
        await step.undo();
      } catch (e) {
        this.onError(step.what, e);
      }
    }
  }
}
