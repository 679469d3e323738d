/** setTimeout's longest delay: a longer one fires after 1 ms (Node only warns). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `callback` once `ms` have passed, however long that is (a resume timeout of 25 days, a
 * track's length from a client's encoded track), in steps setTimeout can take. Returns the
 * cancel function.
 */
export function setLongTimeout(
  callback: () => void,
  ms: number,
  options: { unref?: boolean } = {},
): () => void {
  const deadline = performance.now() + ms;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const left = deadline - performance.now();
    timer = setTimeout(
      () => (left > MAX_TIMER_MS ? arm() : callback()),
      Math.min(Math.max(0, left), MAX_TIMER_MS),
    );
    if (options.unref === true) timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
