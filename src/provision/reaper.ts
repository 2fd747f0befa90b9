/** A provisioner's reaper schedule: one pass at once, then one every interval, never two at a time. */
export class ReaperSchedule {
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<unknown> | undefined;

  /** The pass now running, if any (close() waits for it). */
  get running(): Promise<unknown> | undefined {
    return this.#pass;
  }

  /** `pass` runs now and every `intervalMs`; a pass still running when the next is due is not doubled. */
  start(pass: () => Promise<unknown>, onError: (err: unknown) => void, intervalMs: number): void {
    this.stop();
    const tick = () => {
      if (this.#pass || this.#timer !== timer) return;
      this.#pass = pass()
        .catch(onError)
        .finally(() => (this.#pass = undefined));
    };
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    this.#timer = timer;
    setImmediate(tick);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
