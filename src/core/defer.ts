/**
 * A stack of undo steps, unwound in reverse when disposed. Every step runs even if an
 * earlier one failed; failures are collected and handed to `onError`, never thrown over the
 * error that caused the unwinding.
 */
export class DeferStack implements AsyncDisposable {
  private readonly steps: { what: string; undo: () => Promise<void> }[] = [];
  constructor(private readonly onError: (what: string, error: unknown) => void) {}

  defer(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
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
