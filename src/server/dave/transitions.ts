/**
 * DAVE transition coordinator (dave.md §7.5 step 5, §7.8): allocates transition ids (u16, never 0,
 * wrapping), collects op 23 from everyone who was told about a transition, and reports when op 22
 * should go out: all ready, or the deadline passed. Pure: time is passed in.
 */

export interface ExecutedTransition {
  transitionId: number;
  protocolVersion: number;
  /** Who gets op 22: everyone who was sent the transition and is still part of it. */
  recipients: string[];
}

interface PendingTransition {
  protocolVersion: number;
  recipients: Set<string>;
  waiting: Set<string>;
  deadline: number;
}

export class TransitionCoordinator {
  private lastId = 0;
  private readonly pending = new Map<number, PendingTransition>();

  constructor(private readonly timeoutMs: number) {}

  /** Next transition id: 1..65535, wrapping, skipping ids still pending. */
  allocate(): number {
    for (let i = 0; i < 0xffff; i++) {
      this.lastId = (this.lastId % 0xffff) + 1;
      if (!this.pending.has(this.lastId)) return this.lastId;
    }
    throw new RangeError('no free transition id');
  }

  start(transitionId: number, protocolVersion: number, recipients: Iterable<string>, now: number): void {
    const set = new Set(recipients);
    this.pending.set(transitionId, {
      protocolVersion,
      recipients: set,
      waiting: new Set(set),
      deadline: now + this.timeoutMs,
    });
  }

  has(transitionId: number): boolean {
    return this.pending.has(transitionId);
  }

  /** Op 23 from `userId`; the transition when this completed it. Unknown ids/users are ignored. */
  ready(userId: string, transitionId: number): ExecutedTransition | undefined {
    const t = this.pending.get(transitionId);
    if (t === undefined) return undefined;
    t.waiting.delete(userId);
    return this.completeIfDone(transitionId, t);
  }

  /** A user left or gave up (op 31): stop waiting for it and don't send it op 22. */
  dropUser(userId: string): ExecutedTransition[] {
    const done: ExecutedTransition[] = [];
    for (const [id, t] of [...this.pending]) {
      if (!t.recipients.has(userId)) continue;
      t.recipients.delete(userId);
      t.waiting.delete(userId);
      const executed = this.completeIfDone(id, t);
      if (executed !== undefined) done.push(executed);
    }
    return done;
  }

  /** Transitions whose deadline has passed, in id-allocation order. */
  expire(now: number): ExecutedTransition[] {
    const done: ExecutedTransition[] = [];
    for (const [id, t] of [...this.pending]) {
      if (now >= t.deadline) done.push(this.finish(id, t));
    }
    return done;
  }

  /** Executes everything pending now (before a reset or version change). */
  flush(): ExecutedTransition[] {
    return [...this.pending].map(([id, t]) => this.finish(id, t));
  }

  /** Earliest pending deadline, for an adapter that schedules tick(). */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const t of this.pending.values()) if (next === undefined || t.deadline < next) next = t.deadline;
    return next;
  }

  clear(): void {
    this.pending.clear();
  }

  private completeIfDone(id: number, t: PendingTransition): ExecutedTransition | undefined {
    return t.waiting.size === 0 ? this.finish(id, t) : undefined;
  }

  private finish(id: number, t: PendingTransition): ExecutedTransition {
    this.pending.delete(id);
    return { transitionId: id, protocolVersion: t.protocolVersion, recipients: [...t.recipients] };
  }
}
